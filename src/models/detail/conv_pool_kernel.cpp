// See conv_pool_kernel.hpp. Loops are written on 16-float vectors (GCC/Clang vector extensions), so one
// source serves AVX-512 (one register), AVX2 (two) and SSE (four); on x86-64 with GCC the entry points
// are cloned for x86-64-v4 and -v3 and the loader picks the best the CPU has.
#include "conv_pool_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#pragma GCC diagnostic ignored "-Wpsabi"  // 64-byte vectors only ever pass between inlined helpers

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MER_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MER_KERNEL_CLONES
#endif
#define MER_INLINE inline __attribute__((always_inline))

namespace mer::kernels {

namespace {

constexpr int V = 16;        // floats per vector
constexpr int G = 2;         // vectors per column group: one output row is computed G · V columns at a time
constexpr int kBlock = 4;    // output channels computed together (CB · G accumulators stay in registers)
using vf = float __attribute__((vector_size(V * sizeof(float))));

MER_INLINE vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
MER_INLINE void store(float* p, const vf& v) { std::memcpy(p, &v, sizeof v); }
// A broadcast. GCC 12 turns a braced list of one value (or a loop over lanes) into sixteen masked moves;
// this costs one scalar add instead.
MER_INLINE vf splat(float f) { return vf{} + f; }
MER_INLINE float hsum(const vf& v) {
  float s = 0.0f;
  for (int i = 0; i < V; ++i) s += v[i];
  return s;
}

// The per-sample working set: the zero-padded input, wide enough that every column group reads whole
// vectors, and CB output maps. Rows of the maps are `stride` floats (a multiple of G · V); the columns past
// wo hold the convolution of the padding and are masked out of every sum.
struct Layout {
  int groups, stride, xrows, xcols, xplane;
  explicit Layout(const ConvPoolShape& s)
      : groups((s.wo() + G * V - 1) / (G * V)),
        stride(groups * G * V),
        xrows(s.h + 2 * s.pad),
        xcols(stride + s.k - 1),
        xplane(xrows * xcols) {}
};

thread_local std::vector<float> t_input, t_dinput, t_maps, t_grads, t_masks, t_columns;
thread_local std::vector<float> t_sums;  // per-channel (or per-weight) vector sums over a range of samples

MER_INLINE float* sized(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// n vectors' worth of zeros. Kept as floats and accessed with unaligned loads: a std::vector of 64-byte
// vectors is not guaranteed 64-byte alignment by every allocator.
MER_INLINE float* zeroed_sums(std::size_t n) {
  float* p = sized(t_sums, n * V);
  std::fill(p, p + n * V, 0.0f);
  return p;
}
MER_INLINE void accumulate(float* sums, std::size_t i, const vf& v) { store(sums + i * V, load(sums + i * V) + v); }
MER_INLINE float total(const float* sums, std::size_t i) { return hsum(load(sums + i * V)); }

MER_INLINE void pad_input(const ConvPoolShape& s, const Layout& l, const float* x, float* xp) {
  std::fill(xp, xp + static_cast<std::size_t>(s.cin) * l.xplane, 0.0f);
  for (int ci = 0; ci < s.cin; ++ci)
    for (int y = 0; y < s.h; ++y)
      std::memcpy(xp + ci * l.xplane + (y + s.pad) * l.xcols + s.pad, x + (ci * s.h + y) * s.w,
                  sizeof(float) * static_cast<std::size_t>(s.w));
}

// 1 for the valid columns of each vector of a map row, 0 for the overhang.
MER_INLINE const float* column_masks(const ConvPoolShape& s, const Layout& l) {
  float* m = sized(t_masks, static_cast<std::size_t>(l.stride));
  for (int x = 0; x < l.stride; ++x) m[x] = x < s.wo() ? 1.0f : 0.0f;
  return m;
}

// r = ReLU(conv + bias) for CB output channels of one sample, into maps[CB][ho][stride].
template <int CB>
MER_INLINE void conv_relu(const ConvPoolShape& s, const Layout& l, const float* xp, const float* w, const float* b,
                          float* maps) {
  const int taps = s.k * s.k, ho = s.ho();
  for (int oy = 0; oy < ho; ++oy) {
    for (int g = 0; g < l.groups; ++g) {
      vf acc[CB][G];
      for (int cc = 0; cc < CB; ++cc)
        for (int j = 0; j < G; ++j) acc[cc][j] = splat(b ? b[cc] : 0.0f);
      for (int ci = 0; ci < s.cin; ++ci) {
        for (int ky = 0; ky < s.k; ++ky) {
          const float* row = xp + ci * l.xplane + (oy + ky) * l.xcols + g * G * V;
          const float* wt = w + ci * taps + ky * s.k;
          for (int kx = 0; kx < s.k; ++kx) {
            vf xv[G];
            for (int j = 0; j < G; ++j) xv[j] = load(row + kx + j * V);
            for (int cc = 0; cc < CB; ++cc) {
              const vf wv = splat(wt[cc * s.cin * taps + kx]);
              for (int j = 0; j < G; ++j) acc[cc][j] += wv * xv[j];
            }
          }
        }
      }
      const vf zero{};
      for (int cc = 0; cc < CB; ++cc)
        for (int j = 0; j < G; ++j)
          store(maps + (cc * ho + oy) * l.stride + (g * G + j) * V, acc[cc][j] > zero ? acc[cc][j] : zero);
    }
  }
}

// Max-pool's choice for one channel's map: in each window the largest, the smallest or the first value,
// with its offset in the map. Vertical first, on whole vectors: per column the best row of the window
// (first wins ties), then per window the best column.
template <Select mode>
MER_INLINE void select_windows(const ConvPoolShape& s, const Layout& l, const float* map, float* value,
                               std::int32_t* index, float* columns) {
  const int ho = s.ho(), wo = s.wo(), hp = s.hp(), wp = s.wp();
  float* best_row = columns + l.stride;
  for (int py = 0; py < hp; ++py) {
    const int y0 = py * s.pool_s - s.pool_pad;
    const int ya = std::max(y0, 0), yb = std::min(y0 + s.pool_k, ho);
    if (mode != Select::kFirst) {
      for (int x = 0; x < l.stride; x += V) {
        vf best = load(map + ya * l.stride + x), row = splat(static_cast<float>(ya));
        for (int y = ya + 1; y < yb; ++y) {
          const vf v = load(map + y * l.stride + x);
          const auto take = mode == Select::kLargest ? v > best : v < best;
          best = take ? v : best;
          row = take ? splat(static_cast<float>(y)) : row;
        }
        store(columns + x, best);
        store(best_row + x, row);
      }
    }
    for (int px = 0; px < wp; ++px) {
      const int x0 = px * s.pool_s - s.pool_pad;
      const int xa = std::max(x0, 0), xb = std::min(x0 + s.pool_k, wo);
      if (mode == Select::kFirst) {
        value[py * wp + px] = map[ya * l.stride + xa];
        index[py * wp + px] = ya * l.stride + xa;
        continue;
      }
      int bx = xa;
      float best = columns[xa];
      for (int x = xa + 1; x < xb; ++x) {
        const float v = columns[x];
        if (mode == Select::kLargest ? v > best : v < best) best = v, bx = x;
      }
      value[py * wp + px] = best;
      index[py * wp + px] = static_cast<int>(best_row[bx]) * l.stride + bx;
    }
  }
}

template <int CB>
MER_INLINE void forward_block(const ConvPoolShape& s, const Layout& l, const ConvPoolForward& a, const float* xp,
                              const float* masks, float* maps, float* columns, float* sums, int n, int c0) {
  const int taps = s.k * s.k, ho = s.ho(), pooled = s.hp() * s.wp();
  conv_relu<CB>(s, l, xp, a.w + c0 * s.cin * taps, a.b ? a.b + c0 : nullptr, maps);
  for (int cc = 0; cc < CB; ++cc) {
    const int c = c0 + cc;
    const float* map = maps + cc * ho * l.stride;
    if (a.sum) {
      vf sum{}, sq{};
      for (int y = 0; y < ho; ++y)
        for (int x = 0; x < l.stride; x += V) {
          const vf r = load(map + y * l.stride + x) * load(masks + x);
          sum += r;
          sq += r * r;
        }
      accumulate(sums, 2 * static_cast<std::size_t>(c), sum);
      accumulate(sums, 2 * static_cast<std::size_t>(c) + 1, sq);
    }
    const std::size_t at = (static_cast<std::size_t>(n) * s.cout + c) * pooled;
    switch (a.select[c]) {
      case Select::kLargest: select_windows<Select::kLargest>(s, l, map, a.value + at, a.index + at, columns); break;
      case Select::kSmallest: select_windows<Select::kSmallest>(s, l, map, a.value + at, a.index + at, columns); break;
      case Select::kFirst: select_windows<Select::kFirst>(s, l, map, a.value + at, a.index + at, columns); break;
    }
  }
}

// sums: per weight (cout · cin · k · k vectors), then per channel (cout) for the bias, summed over the
// range's samples and reduced to floats once at its end.
template <int CB>
MER_INLINE void backward_block(const ConvPoolShape& s, const Layout& l, const ConvPoolBackward& a, const float* xp,
                               float* dxp, const float* masks, float* maps, float* grads, float* sums, int n, int c0) {
  const int taps = s.k * s.k, ho = s.ho(), pooled = s.hp() * s.wp();
  const std::size_t db_at = static_cast<std::size_t>(s.cout) * s.cin * taps;  // after the weights' sums
  const float* w = a.w + c0 * s.cin * taps;
  conv_relu<CB>(s, l, xp, w, a.b ? a.b + c0 : nullptr, maps);

  // Gradient at the ReLU input, in place of the maps: scale · (pooled gradients routed back) + shift +
  // slope · r where r > 0, else 0 (and 0 in the overhang).
  std::fill(grads, grads + static_cast<std::size_t>(CB) * ho * l.stride, 0.0f);
  for (int cc = 0; cc < CB; ++cc) {
    const std::size_t at = (static_cast<std::size_t>(n) * s.cout + c0 + cc) * pooled;
    float* g = grads + cc * ho * l.stride;
    for (int p = 0; p < pooled; ++p) g[a.index[at + p]] += a.grad[at + p];
  }
  const vf zero{};
  for (int cc = 0; cc < CB; ++cc) {
    const int c = c0 + cc;
    const vf scale = splat(static_cast<float>(a.scale[c]));
    const vf shift = splat(static_cast<float>(a.shift[c]));
    const vf slope = splat(static_cast<float>(a.slope[c]));
    vf bias_grad{};
    for (int y = 0; y < ho; ++y) {
      for (int x = 0; x < l.stride; x += V) {
        float* m = maps + (cc * ho + y) * l.stride + x;
        const vf r = load(m);
        const vf d = scale * load(grads + (cc * ho + y) * l.stride + x) + shift + slope * r;
        const vf dz = (r > zero ? d : zero) * load(masks + x);
        store(m, dz);
        bias_grad += dz;
      }
    }
    accumulate(sums, db_at + static_cast<std::size_t>(c), bias_grad);
  }

  // dW[c][ci][ky][kx] = Σ_{y,x} dz[c][y][x] · xp[ci][y + ky][x + kx].
  for (int ci = 0; ci < s.cin; ++ci) {
    for (int ky = 0; ky < s.k; ++ky) {
      for (int kx = 0; kx < s.k; ++kx) {
        vf acc[CB][G] = {};
        for (int oy = 0; oy < ho; ++oy) {
          const float* row = xp + ci * l.xplane + (oy + ky) * l.xcols + kx;
          for (int g = 0; g < l.groups; ++g) {
            vf xv[G];
            for (int j = 0; j < G; ++j) xv[j] = load(row + (g * G + j) * V);
            for (int cc = 0; cc < CB; ++cc)
              for (int j = 0; j < G; ++j) acc[cc][j] += load(maps + (cc * ho + oy) * l.stride + (g * G + j) * V) * xv[j];
          }
        }
        for (int cc = 0; cc < CB; ++cc) {
          vf t = acc[cc][0];
          for (int j = 1; j < G; ++j) t += acc[cc][j];
          accumulate(sums, static_cast<std::size_t>(((c0 + cc) * s.cin + ci) * taps + ky * s.k + kx), t);
        }
      }
    }
  }

  // dx: every output position hands dz · w back to the inputs it read.
  if (!dxp) return;
  for (int cc = 0; cc < CB; ++cc)
    for (int ci = 0; ci < s.cin; ++ci)
      for (int ky = 0; ky < s.k; ++ky)
        for (int kx = 0; kx < s.k; ++kx) {
          const vf wv = splat(w[(cc * s.cin + ci) * taps + ky * s.k + kx]);
          for (int oy = 0; oy < ho; ++oy) {
            float* dst = dxp + ci * l.xplane + (oy + ky) * l.xcols + kx;
            const float* dz = maps + (cc * ho + oy) * l.stride;
            for (int x = 0; x < l.stride; x += V) store(dst + x, load(dst + x) + wv * load(dz + x));
          }
        }
}


}  // namespace

MER_KERNEL_CLONES void conv_relu_pool_forward(const ConvPoolShape& s, const ConvPoolForward& a, int n0, int n1) {
  const Layout l(s);
  float* xp = sized(t_input, static_cast<std::size_t>(s.cin) * l.xplane);
  float* maps = sized(t_maps, static_cast<std::size_t>(kBlock) * s.ho() * l.stride);
  float* columns = sized(t_columns, 2 * static_cast<std::size_t>(l.stride));
  float* sums = zeroed_sums(2 * static_cast<std::size_t>(s.cout));
  const float* masks = column_masks(s, l);
  for (int n = n0; n < n1; ++n) {
    pad_input(s, l, a.x + static_cast<std::size_t>(n) * s.cin * s.h * s.w, xp);
    for (int c0 = 0; c0 < s.cout; c0 += kBlock) {
      switch (std::min(kBlock, s.cout - c0)) {
        case 4: forward_block<4>(s, l, a, xp, masks, maps, columns, sums, n, c0); break;
        case 3: forward_block<3>(s, l, a, xp, masks, maps, columns, sums, n, c0); break;
        case 2: forward_block<2>(s, l, a, xp, masks, maps, columns, sums, n, c0); break;
        default: forward_block<1>(s, l, a, xp, masks, maps, columns, sums, n, c0); break;
      }
    }
  }
  if (a.sum) {
    for (int c = 0; c < s.cout; ++c) {
      a.sum[c] += total(sums, 2 * static_cast<std::size_t>(c));
      a.sum_sq[c] += total(sums, 2 * static_cast<std::size_t>(c) + 1);
    }
  }
}

MER_KERNEL_CLONES void conv_relu_pool_backward(const ConvPoolShape& s, const ConvPoolBackward& a, int n0, int n1) {
  const Layout l(s);
  const std::size_t input = static_cast<std::size_t>(s.cin) * l.xplane;
  const std::size_t weights = static_cast<std::size_t>(s.cout) * s.cin * s.k * s.k;
  float* xp = sized(t_input, input);
  float* dxp = a.dx ? sized(t_dinput, input) : nullptr;
  float* maps = sized(t_maps, static_cast<std::size_t>(kBlock) * s.ho() * l.stride);
  float* grads = sized(t_grads, static_cast<std::size_t>(kBlock) * s.ho() * l.stride);
  float* sums = zeroed_sums(weights + static_cast<std::size_t>(s.cout));
  const float* masks = column_masks(s, l);
  for (int n = n0; n < n1; ++n) {
    pad_input(s, l, a.x + static_cast<std::size_t>(n) * s.cin * s.h * s.w, xp);
    if (dxp) std::fill(dxp, dxp + input, 0.0f);
    for (int c0 = 0; c0 < s.cout; c0 += kBlock) {
      switch (std::min(kBlock, s.cout - c0)) {
        case 4: backward_block<4>(s, l, a, xp, dxp, masks, maps, grads, sums, n, c0); break;
        case 3: backward_block<3>(s, l, a, xp, dxp, masks, maps, grads, sums, n, c0); break;
        case 2: backward_block<2>(s, l, a, xp, dxp, masks, maps, grads, sums, n, c0); break;
        default: backward_block<1>(s, l, a, xp, dxp, masks, maps, grads, sums, n, c0); break;
      }
    }
    if (dxp) {
      float* dx = a.dx + static_cast<std::size_t>(n) * s.cin * s.h * s.w;
      for (int ci = 0; ci < s.cin; ++ci)
        for (int y = 0; y < s.h; ++y)
          std::memcpy(dx + (ci * s.h + y) * s.w, dxp + ci * l.xplane + (y + s.pad) * l.xcols + s.pad,
                      sizeof(float) * static_cast<std::size_t>(s.w));
    }
  }
  for (std::size_t i = 0; i < weights; ++i) a.dw[i] += total(sums, i);
  if (a.db)
    for (int c = 0; c < s.cout; ++c) a.db[c] += total(sums, weights + static_cast<std::size_t>(c));
}

MER_KERNEL_CLONES void affine_channels(const float* value, const float* alpha, const float* offset, int n, int cout,
                                       int pooled, float* out) {
  for (std::size_t nc = 0; nc < static_cast<std::size_t>(n) * cout; ++nc) {
    const float a = alpha[nc % static_cast<std::size_t>(cout)], b = offset[nc % static_cast<std::size_t>(cout)];
    const float* v = value + nc * pooled;
    float* o = out + nc * pooled;
    int p = 0;
    for (; p + V <= pooled; p += V) store(o + p, load(v + p) * a + b);
    for (; p < pooled; ++p) o[p] = v[p] * a + b;
  }
}

MER_KERNEL_CLONES void pooled_grad_sums(const float* g, const float* value, const double* mean, int n, int cout,
                                        int pooled, double* sum_g, double* sum_gv) {
  for (std::size_t nc = 0; nc < static_cast<std::size_t>(n) * cout; ++nc) {
    const std::size_t c = nc % static_cast<std::size_t>(cout);
    const float m = static_cast<float>(mean[c]);
    const float* gp = g + nc * pooled;
    const float* vp = value + nc * pooled;
    vf sg{}, sgv{};
    int p = 0;
    for (; p + V <= pooled; p += V) {
      const vf gv = load(gp + p);
      sg += gv;
      sgv += gv * (load(vp + p) - m);
    }
    double tg = hsum(sg), tgv = hsum(sgv);
    for (; p < pooled; ++p) tg += gp[p], tgv += static_cast<double>(gp[p]) * (vp[p] - m);
    sum_g[c] += tg;
    sum_gv[c] += tgv;
  }
}

}  // namespace mer::kernels
