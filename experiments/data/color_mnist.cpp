#include "experiments/data/color_mnist.h"

#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

std::vector<Rgb> default_digit_palette() {
  return {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}, {1, 0, 1}};
}

std::vector<std::string> default_digit_palette_names() {
  return {"red", "green", "blue", "yellow", "cyan", "magenta"};
}

Tensor draw_colors(int64_t n, int64_t num_colors, uint64_t seed) {
  DIFFLAB_CHECK(num_colors >= 1, "draw_colors: num_colors must be >= 1, got ", num_colors);
  DIFFLAB_CHECK(n >= 0, "draw_colors: negative count ", n);
  Tensor out = Tensor::empty({n}, DType::i64);
  int64_t* p = out.data<int64_t>();
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int64_t i = 0; i < n; ++i) {
    auto u =
        tensor::philox4x32_10({uint32_t(i), uint32_t(uint64_t(i) >> 32), 0x436F6C72u, 0u}, key);
    const uint64_t v = (uint64_t(u[0]) << 32) | u[1];
    p[i] =
        int64_t((__uint128_t(v) * uint64_t(num_colors)) >> 64);  // multiply-high: unbiased enough
  }
  return out;
}

ColorImageSet colorize(const ImageSet& gray, const Tensor& colors, const ColorMnistOptions& opt) {
  const Tensor& img = gray.images;
  DIFFLAB_CHECK(img.defined() && img.dtype() == DType::f32 && img.dim() == 4 && img.size(1) == 1,
                "colorize: expected grayscale images f32 [N, 1, H, W], got ",
                img.defined() ? img.desc() : std::string("undefined"));
  const int64_t n = img.size(0), hw = img.size(2) * img.size(3), k = opt.num_colors;
  DIFFLAB_CHECK(k >= 1 && k <= int64_t(opt.palette.size()), "colorize: num_colors ", k,
                " must be in [1, ", opt.palette.size(), "] (the palette size)");
  DIFFLAB_CHECK(colors.dtype() == DType::i64 && colors.dim() == 1 && colors.size(0) == n,
                "colorize: colors must be i64 [", n, "], got ", colors.desc());
  DIFFLAB_CHECK(gray.labels.dtype() == DType::i64 && gray.labels.numel() == n,
                "colorize: labels must be i64 [", n, "], got ", gray.labels.desc());
  Tensor src = img.contiguous();
  Tensor out = Tensor::empty({n, 3, img.size(2), img.size(3)}, DType::f32);
  Tensor labels = Tensor::empty({n}, DType::i64);
  const float* s = src.data<float>();
  float* d = out.data<float>();
  const std::vector<int64_t> digit = gray.labels.to_vector<int64_t>();
  const std::vector<int64_t> col = colors.to_vector<int64_t>();
  const Rgb bg = opt.background;
  for (int64_t i = 0; i < n; ++i) {
    DIFFLAB_CHECK(col[size_t(i)] >= 0 && col[size_t(i)] < k, "colorize: colour index ",
                  col[size_t(i)], " of sample ", i, " outside [0, ", k, ")");
    DIFFLAB_CHECK(digit[size_t(i)] >= 0 && digit[size_t(i)] <= 9, "colorize: label ",
                  digit[size_t(i)], " of sample ", i, " is not a digit");
    const Rgb fg = opt.palette[size_t(col[size_t(i)])];
    const float f[3] = {fg.r, fg.g, fg.b}, b[3] = {bg.r, bg.g, bg.b};
    for (int c = 0; c < 3; ++c) {
      float* o = d + (i * 3 + c) * hw;
      const float* g = s + i * hw;
      for (int64_t j = 0; j < hw; ++j) {
        const float v = 0.5f * (g[j] + 1.0f);  // back to [0, 1]
        o[j] = 2.0f * (v * f[c] + (1.0f - v) * b[c]) - 1.0f;
      }
    }
    labels.data<int64_t>()[i] = digit[size_t(i)] * k + col[size_t(i)];
  }
  ColorImageSet r;
  r.set = {out, labels};
  r.digits = gray.labels.contiguous().clone();
  r.colors = colors.contiguous().clone();
  r.num_colors = k;
  return r;
}

ColorImageSet colorize(const ImageSet& gray, const ColorMnistOptions& opt) {
  return colorize(gray, draw_colors(gray.size(), opt.num_colors, opt.seed), opt);
}

}  // namespace difflab::experiments
