// Uses the installed headers and library: scores a hand-computed confusion matrix.
#include <mer/core/version.hpp>
#include <mer/eval/metrics.hpp>

#include <cmath>
#include <cstdio>

int main() {
  const auto cm = mer::confusion_matrix({0, 0, 1, 1}, {0, 1, 1, 1}, 2);
  const double expected = (2.0 / 3 + 0.8) / 2;  // F1_0 = 2/(2+0+1), F1_1 = 4/(4+1+0)
  std::printf("libmer %s: UF1 %.4f (expected %.4f)\n", mer::version().c_str(), *mer::uf1(cm), expected);
  return std::fabs(*mer::uf1(cm) - expected) < 1e-12 ? 0 : 1;
}
