// The autograd wrapper around the fused conv → ReLU → batch norm → max-pool kernel
// (detail/conv_pool_kernel.hpp), and its reference. The batch is cut into fixed chunks of samples whose
// partial sums are added in chunk order, so results do not depend on how many threads ran the chunks.
#include <mer/models/fused.hpp>

#include "detail/conv_pool_kernel.hpp"

#include <mer/core/error.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/autograd.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/nn/functional/batchnorm.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/functional/pooling.h>

#include <cmath>
#include <mutex>
#include <sstream>
#include <vector>

namespace mer {

namespace {

constexpr int kChunk = 8;  // samples per unit of work: enough to amortise the calls, small for balance

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void check(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, const BatchNormState& bn,
           const ConvPoolGeometry& g) {
  MER_CHECK(x.dim() == 4, ValueError, "conv_relu_bn_maxpool expects input [N, C, H, W], got ", shape_of(x));
  MER_CHECK(weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == weight.size(3), ValueError,
            "conv_relu_bn_maxpool expects a square weight [Cout, ", x.size(1), ", k, k], got ", shape_of(weight));
  const auto cout = weight.size(0);
  MER_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == cout), ValueError,
            "conv_relu_bn_maxpool expects a bias of ", cout, " values, got ", shape_of(bias));
  const bool norm = bn.weight.defined();
  MER_CHECK(norm == bn.bias.defined() && norm == bn.running_mean.defined() && norm == bn.running_var.defined(),
            ValueError, "conv_relu_bn_maxpool needs batch norm's weight, bias, running_mean and running_var, or none");
  if (norm) {
    for (const auto* t : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var})
      MER_CHECK(t->dim() == 1 && t->size(0) == cout, ValueError, "conv_relu_bn_maxpool expects batch norm tensors of ",
                cout, " values, got ", shape_of(*t));
  }
  MER_CHECK(g.padding >= 0 && g.pool_kernel >= 1 && g.pool_stride >= 1 && g.pool_padding >= 0 &&
                2 * g.pool_padding <= g.pool_kernel,
            ValueError, "conv_relu_bn_maxpool: bad geometry (padding ", g.padding, ", pool ", g.pool_kernel, "/",
            g.pool_stride, " padding ", g.pool_padding, "; pool padding may be at most half the pool kernel)");
  const auto conv = x.size(2) + 2 * g.padding - weight.size(2) + 1;
  const auto conv_w = x.size(3) + 2 * g.padding - weight.size(3) + 1;
  MER_CHECK(conv >= 1 && conv_w >= 1 && conv + 2 * g.pool_padding >= g.pool_kernel &&
                conv_w + 2 * g.pool_padding >= g.pool_kernel,
            ValueError, "conv_relu_bn_maxpool: input ", shape_of(x), " is too small for a ", weight.size(2),
            "x", weight.size(2), " conv with padding ", g.padding, " and a ", g.pool_kernel, "x", g.pool_kernel, " pool");
}

// xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2018), its state
// filled from a 64-bit seed by splitmix64 as the authors recommend.
class Xoshiro256 {
 public:
  explicit Xoshiro256(std::uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  std::uint64_t operator()() {
    const std::uint64_t out = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

kernels::ConvPoolShape kernel_shape(const torch::Tensor& x, const torch::Tensor& weight, const ConvPoolGeometry& g) {
  kernels::ConvPoolShape s;
  s.n = static_cast<int>(x.size(0)), s.cin = static_cast<int>(x.size(1));
  s.h = static_cast<int>(x.size(2)), s.w = static_cast<int>(x.size(3));
  s.cout = static_cast<int>(weight.size(0)), s.k = static_cast<int>(weight.size(2));
  s.pad = static_cast<int>(g.padding);
  s.pool_k = static_cast<int>(g.pool_kernel), s.pool_s = static_cast<int>(g.pool_stride);
  s.pool_pad = static_cast<int>(g.pool_padding);
  return s;
}

const float* data_or_null(const torch::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

class ConvReluBnPool : public torch::autograd::Function<ConvReluBnPool> {
 public:
  // Optional tensors for the parts that may be absent: autograd tracks only those that are there.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor weight,
                               const c10::optional<torch::Tensor>& bias_in, const c10::optional<torch::Tensor>& gamma_in,
                               const c10::optional<torch::Tensor>& beta, const BatchNormState& bn,
                               const ConvPoolGeometry& g) {
    auto bias = bias_in.value_or(torch::Tensor());
    const auto gamma = gamma_in.value_or(torch::Tensor());
    x = x.contiguous();
    weight = weight.contiguous();
    if (bias.defined()) bias = bias.contiguous();
    const auto s = kernel_shape(x, weight, g);
    const bool norm = gamma.defined(), batch_stats = norm && bn.training;
    const double count = static_cast<double>(s.n) * s.ho() * s.wo();
    MER_CHECK(!batch_stats || count > 1, ValueError,
              "conv_relu_bn_maxpool: batch norm in training needs more than one value per channel, got input ",
              shape_of(x));

    // The ReLU value each window keeps: the one batch norm maps highest (the scale's sign is gamma's).
    const auto gam = norm ? gamma.detach().to(torch::kDouble).contiguous() : torch::ones({s.cout}, torch::kDouble);
    std::vector<kernels::Select> select(static_cast<std::size_t>(s.cout));
    for (int c = 0; c < s.cout; ++c) {
      const double v = gam.data_ptr<double>()[c];
      select[static_cast<std::size_t>(c)] = v > 0 ? kernels::Select::kLargest
                                            : v < 0 ? kernels::Select::kSmallest
                                                    : kernels::Select::kFirst;
    }
    auto value = torch::empty({s.n, s.cout, s.hp(), s.wp()}, x.options());
    auto index = torch::empty({s.n, s.cout, s.hp(), s.wp()}, x.options().dtype(torch::kInt));
    const int chunks = (s.n + kChunk - 1) / kChunk;
    std::vector<double> sums(batch_stats ? static_cast<std::size_t>(chunks) * s.cout * 2 : 0, 0.0);
    at::parallel_for(0, chunks, 1, [&](std::int64_t b, std::int64_t e) {
      for (auto ch = b; ch < e; ++ch) {
        kernels::ConvPoolForward a;
        a.x = x.data_ptr<float>(), a.w = weight.data_ptr<float>(), a.b = data_or_null(bias);
        a.select = select.data(), a.value = value.data_ptr<float>(), a.index = index.data_ptr<std::int32_t>();
        if (batch_stats) a.sum = &sums[static_cast<std::size_t>(ch) * s.cout * 2], a.sum_sq = a.sum + s.cout;
        const int n0 = static_cast<int>(ch) * kChunk;
        kernels::conv_relu_pool_forward(s, a, n0, std::min(s.n, n0 + kChunk));
      }
    });

    // Per channel: the statistics that normalise, and out = value · alpha + offset.
    auto mean = torch::zeros({s.cout}, torch::kDouble), invstd = torch::ones({s.cout}, torch::kDouble);
    if (batch_stats) {
      auto var = torch::zeros({s.cout}, torch::kDouble);
      for (int c = 0; c < s.cout; ++c) {
        double sum = 0, sq = 0;
        for (int ch = 0; ch < chunks; ++ch) {
          sum += sums[(static_cast<std::size_t>(ch) * 2) * s.cout + c];
          sq += sums[(static_cast<std::size_t>(ch) * 2 + 1) * s.cout + c];
        }
        const double m = sum / count;
        mean.data_ptr<double>()[c] = m;
        var.data_ptr<double>()[c] = std::max(0.0, sq / count - m * m);
      }
      invstd = (var + bn.eps).rsqrt();
      torch::NoGradGuard no_grad;
      bn.running_mean.mul_(1 - bn.momentum).add_(mean.to(bn.running_mean.dtype()), bn.momentum);
      bn.running_var.mul_(1 - bn.momentum).add_((var * (count / (count - 1))).to(bn.running_var.dtype()), bn.momentum);
    } else if (norm) {
      mean = bn.running_mean.detach().to(torch::kDouble);
      invstd = (bn.running_var.detach().to(torch::kDouble) + bn.eps).rsqrt();
    }
    const auto alpha = gam * invstd;
    const auto offset = norm ? beta->detach().to(torch::kDouble) - mean * alpha : torch::zeros({s.cout}, torch::kDouble);
    auto out = torch::empty_like(value);
    const auto alpha32 = alpha.to(torch::kFloat).contiguous(), offset32 = offset.to(torch::kFloat).contiguous();
    kernels::affine_channels(value.data_ptr<float>(), alpha32.data_ptr<float>(), offset32.data_ptr<float>(), s.n,
                             s.cout, s.hp() * s.wp(), out.data_ptr<float>());

    ctx->save_for_backward({x, weight, bias, gamma, value, index});
    ctx->saved_data["mean"] = mean;
    ctx->saved_data["invstd"] = invstd;
    ctx->saved_data["batch_stats"] = batch_stats;
    ctx->saved_data["geometry"] = std::vector<std::int64_t>{s.pad, s.pool_k, s.pool_s, s.pool_pad};
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2], &gamma = saved[3], &value = saved[4],
               &index = saved[5];
    const auto mean = ctx->saved_data["mean"].toTensor(), invstd = ctx->saved_data["invstd"].toTensor();
    const bool batch_stats = ctx->saved_data["batch_stats"].toBool(), norm = gamma.defined();
    const auto geometry = ctx->saved_data["geometry"].toIntVector();
    ConvPoolGeometry g;
    g.padding = geometry[0], g.pool_kernel = geometry[1], g.pool_stride = geometry[2], g.pool_padding = geometry[3];
    const auto s = kernel_shape(x, weight, g);
    const auto grad = grad_out[0].contiguous();

    // Batch norm's own gradients, and how much of the pooled gradient reaches each ReLU output.
    auto sum_g = torch::zeros({s.cout}, torch::kDouble), sum_gx = torch::zeros({s.cout}, torch::kDouble);
    kernels::pooled_grad_sums(grad.data_ptr<float>(), value.data_ptr<float>(), mean.data_ptr<double>(), s.n, s.cout,
                              s.hp() * s.wp(), sum_g.data_ptr<double>(), sum_gx.data_ptr<double>());
    sum_gx *= invstd;  // Σ g · xhat, xhat = (value - mean) · invstd
    const auto gam = norm ? gamma.detach().to(torch::kDouble) : torch::ones({s.cout}, torch::kDouble);
    auto scale = (gam * invstd).contiguous();
    auto shift = torch::zeros({s.cout}, torch::kDouble), slope = torch::zeros({s.cout}, torch::kDouble);
    if (batch_stats) {
      const double count = static_cast<double>(s.n) * s.ho() * s.wo();
      slope = (-scale * invstd * sum_gx / count).contiguous();
      shift = (-scale * sum_g / count - slope * mean).contiguous();
    }

    const int chunks = (s.n + kChunk - 1) / kChunk;
    const std::size_t wsize = static_cast<std::size_t>(weight.numel());
    std::vector<float> dw(static_cast<std::size_t>(chunks) * wsize, 0.0f), db(static_cast<std::size_t>(chunks) * s.cout, 0.0f);
    const bool want_dx = ctx->needs_input_grad(0);
    torch::Tensor dx = want_dx ? torch::empty_like(x) : torch::Tensor();
    at::parallel_for(0, chunks, 1, [&](std::int64_t b, std::int64_t e) {
      for (auto ch = b; ch < e; ++ch) {
        kernels::ConvPoolBackward a;
        a.x = x.data_ptr<float>(), a.w = weight.data_ptr<float>(), a.b = data_or_null(bias);
        a.grad = grad.data_ptr<float>(), a.index = index.data_ptr<std::int32_t>();
        a.scale = scale.data_ptr<double>(), a.shift = shift.data_ptr<double>(), a.slope = slope.data_ptr<double>();
        a.dw = &dw[static_cast<std::size_t>(ch) * wsize], a.db = &db[static_cast<std::size_t>(ch) * s.cout];
        a.dx = want_dx ? dx.data_ptr<float>() : nullptr;
        const int n0 = static_cast<int>(ch) * kChunk;
        kernels::conv_relu_pool_backward(s, a, n0, std::min(s.n, n0 + kChunk));
      }
    });
    auto dweight = torch::zeros({static_cast<std::int64_t>(wsize)}, torch::kDouble);
    auto dbias = torch::zeros({s.cout}, torch::kDouble);
    for (int ch = 0; ch < chunks; ++ch) {
      auto* dwp = dweight.data_ptr<double>();
      for (std::size_t i = 0; i < wsize; ++i) dwp[i] += dw[static_cast<std::size_t>(ch) * wsize + i];
      auto* dbp = dbias.data_ptr<double>();
      for (int c = 0; c < s.cout; ++c) dbp[c] += db[static_cast<std::size_t>(ch) * s.cout + c];
    }
    const auto as = [](const torch::Tensor& t, const torch::Tensor& like) { return t.to(like.dtype()).view_as(like); };
    return {dx,
            as(dweight, weight),
            bias.defined() ? as(dbias, bias) : torch::Tensor(),
            norm ? as(sum_gx, gamma) : torch::Tensor(),
            norm ? as(sum_g, gamma) : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor conv_relu_bn_maxpool_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                             const torch::Tensor& bias, const BatchNormState& bn,
                                             const ConvPoolGeometry& g) {
  check(x, weight, bias, bn, g);
  namespace F = torch::nn::functional;
  auto y = torch::relu(F::conv2d(x, weight, F::Conv2dFuncOptions().bias(bias).padding(g.padding)));
  if (bn.weight.defined()) {
    y = F::batch_norm(y, bn.running_mean, bn.running_var,
                      F::BatchNormFuncOptions().weight(bn.weight).bias(bn.bias).training(bn.training)
                          .momentum(bn.momentum).eps(bn.eps));
  }
  return F::max_pool2d(y, F::MaxPool2dFuncOptions(g.pool_kernel).stride(g.pool_stride).padding(g.pool_padding));
}

bool fused_kernels_take(const torch::Tensor& x) {
  return x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kFloat && !torch::jit::tracer::isTracing();
}

torch::Tensor conv_relu_bn_maxpool(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                   const BatchNormState& bn, const ConvPoolGeometry& g) {
  const auto cpu_float = [](const torch::Tensor& t) {
    return !t.defined() || (t.device().is_cpu() && t.scalar_type() == torch::kFloat);
  };
  const bool fits = fused_kernels_take(x) && cpu_float(weight) && cpu_float(bias) &&
                    cpu_float(bn.weight) && cpu_float(bn.bias) && x.numel() > 0;
  if (!fits) return conv_relu_bn_maxpool_reference(x, weight, bias, bn, g);
  check(x, weight, bias, bn, g);
  // Seen by profilers and by Trainer::forward_flops as a convolution: inputs laid out as aten::conv2d's
  // (input, weight, bias, stride, padding, dilation).
  RECORD_FUNCTION("mer::conv_relu_bn_maxpool",
                  std::vector<c10::IValue>({x, weight, c10::IValue(), c10::IValue(std::vector<std::int64_t>{1}),
                                            c10::IValue(std::vector<std::int64_t>{g.padding}),
                                            c10::IValue(std::vector<std::int64_t>{1})}));
  const auto optional = [](const torch::Tensor& t) { return t.defined() ? c10::optional<torch::Tensor>(t) : c10::nullopt; };
  return ConvReluBnPool::apply(x, weight, optional(bias), optional(bn.weight), optional(bn.bias), bn, g);
}

torch::Tensor fused_dropout(const torch::Tensor& x, double p, bool training) {
  MER_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (!fused_kernels_take(x)) return torch::dropout(x, p, training);
  if (p == 1.0) return x * 0;
  auto mask = torch::empty(x.sizes(), x.options().requires_grad(false));
  // Keep when a uniform 32-bit draw is below (1 - p) · 2^32. The draws come from xoshiro256** (Blackman &
  // Vigna 2018) seeded by one 64-bit draw of LibTorch's generator per call: a call into LibTorch's
  // mt19937 per element cost as much as the rest of the training step's element-wise work.
  const auto threshold = static_cast<std::uint64_t>(std::llround((1.0 - p) * 4294967296.0));
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  std::uint64_t seed = 0;
  {
    auto* gen = at::check_generator<at::CPUGeneratorImpl>(at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(gen->mutex_);
    seed = gen->random64();
  }
  Xoshiro256 rng(seed);
  float* m = mask.data_ptr<float>();
  const std::int64_t n = mask.numel();
  std::int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const std::uint64_t r = rng();
    m[i] = (r & 0xffffffffu) < threshold ? scale : 0.0f;
    m[i + 1] = (r >> 32) < threshold ? scale : 0.0f;
  }
  if (i < n) m[i] = (rng() & 0xffffffffu) < threshold ? scale : 0.0f;
  return x * mask;
}

}  // namespace mer
