#include "experiments/data/color_compositions.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

void check_digit(int64_t digit, const char* fn) {
  DIFFLAB_CHECK(digit >= 0 && digit <= 9, fn, ": digit ", digit, " is not in 0..9");
}

void check_color(int64_t color, const char* fn) {
  DIFFLAB_CHECK(color >= 0 && color < kCompositionColors, fn, ": colour index ", color,
                " is not in 0..", kCompositionColors - 1);
}

// Philox counter word 2 per split, so the train and test draws are distinct streams of one seed.
uint32_t split_stream(PaintSplit split) { return split == PaintSplit::train ? 0x41747261u : 0x41747374u; }

// Paints gray (digit labels) with the given palette indices and labels = class_of.
CompositionSet paint(const ImageSet& gray, const Tensor& colors, const Tensor& source) {
  ColorMnistOptions opt;
  opt.num_colors = kCompositionColors;
  opt.palette = composition_palette();
  ColorImageSet c = colorize(gray, colors, opt);
  const std::vector<int64_t> d = c.digits.to_vector<int64_t>(), k = c.colors.to_vector<int64_t>();
  std::vector<int64_t> labels(d.size());
  for (size_t i = 0; i < d.size(); ++i) labels[i] = class_of(d[i], k[i]);
  CompositionSet out;
  out.set = {c.set.images, tensor::from_vector<int64_t>(labels, {int64_t(labels.size())})};
  out.digits = c.digits, out.colors = c.colors, out.source = source;
  return out;
}

void check_rgb_images(const Tensor& images, const char* fn) {
  DIFFLAB_CHECK(
      images.defined() && images.dtype() == DType::f32 && images.dim() == 4 && images.size(1) == 3,
      fn, ": expected images f32 [N, 3, H, W], got ",
      images.defined() ? images.desc() : std::string("undefined"));
}

// (Σ_mask v) / (Σ_mask L) of one image (planes of hw pixels, [−1, 1]); false on an empty mask.
bool masked_hue(const float* x, int64_t hw, std::array<double, 3>& hue) {
  double sum[3] = {0, 0, 0}, lum = 0;
  for (int64_t j = 0; j < hw; ++j) {
    if (!std::isfinite(x[j]) || !std::isfinite(x[hw + j]) || !std::isfinite(x[2 * hw + j]))
      continue;
    float v[3];
    for (int c = 0; c < 3; ++c) v[c] = std::clamp(0.5f * (x[c * hw + j] + 1.0f), 0.0f, 1.0f);
    const float l = std::max({v[0], v[1], v[2]});
    if (!(l > 0.5f)) continue;
    for (int c = 0; c < 3; ++c) sum[c] += v[c];
    lum += l;
  }
  if (lum <= 0) return false;
  for (int c = 0; c < 3; ++c) hue[size_t(c)] = sum[c] / lum;
  return true;
}

int64_t nearest_entry(const std::array<double, 3>& hue, const std::vector<Rgb>& palette) {
  int64_t best = 0;
  double best_d = INFINITY;
  for (size_t k = 0; k < palette.size(); ++k) {
    const double dr = hue[0] - palette[k].r, dg = hue[1] - palette[k].g, db = hue[2] - palette[k].b;
    const double d = dr * dr + dg * dg + db * db;
    if (d < best_d) best_d = d, best = int64_t(k);
  }
  return best;
}

}  // namespace

std::vector<Rgb> composition_palette() {
  return {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0.4f, 0.7f}};
}

std::vector<std::string> composition_palette_names() {
  return {"red", "green", "blue", "yellow", "pink"};
}

int64_t held_out_color(int64_t digit) {
  check_digit(digit, "held_out_color");
  return digit % kCompositionColors;
}

bool is_held_out(const Composition& c) {
  check_color(c.color, "is_held_out");
  return held_out_color(c.digit) == c.color;
}

int64_t class_of(int64_t digit, int64_t color) {
  check_digit(digit, "class_of");
  check_color(color, "class_of");
  const int64_t held = held_out_color(digit);
  if (color == held) return -1;
  return digit * (kCompositionColors - 1) + (color < held ? color : color - 1);
}

Composition composition_of(int64_t cls) {
  DIFFLAB_CHECK(cls >= 0 && cls < kSeenCompositions, "composition_of: class ", cls,
                " is not in 0..", kSeenCompositions - 1, " (held-out compositions have no class)");
  const int64_t digit = cls / (kCompositionColors - 1), j = cls % (kCompositionColors - 1);
  return {digit, j < held_out_color(digit) ? j : j + 1};
}

std::vector<Composition> held_out_compositions() {
  std::vector<Composition> out;
  for (int64_t d = 0; d < 10; ++d) out.push_back({d, held_out_color(d)});
  return out;
}

std::string composition_name(const Composition& c) {
  check_digit(c.digit, "composition_name");
  check_color(c.color, "composition_name");
  return std::to_string(c.digit) + "-" + composition_palette_names()[size_t(c.color)];
}

std::vector<std::string> seen_class_names() {
  std::vector<std::string> out;
  for (int64_t k = 0; k < kSeenCompositions; ++k)
    out.push_back(composition_name(composition_of(k)));
  return out;
}

Tensor draw_seen_colors(const Tensor& digits, uint64_t seed, PaintSplit split) {
  DIFFLAB_CHECK(digits.defined() && digits.dtype() == DType::i64 && digits.dim() == 1,
                "draw_seen_colors: digits must be i64 [N], got ",
                digits.defined() ? digits.desc() : std::string("undefined"));
  const std::vector<int64_t> d = digits.to_vector<int64_t>();
  Tensor out = Tensor::empty({int64_t(d.size())}, DType::i64);
  int64_t* p = out.data<int64_t>();
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  for (size_t i = 0; i < d.size(); ++i) {
    check_digit(d[i], "draw_seen_colors");
    auto u = tensor::philox4x32_10(
        {uint32_t(i), uint32_t(uint64_t(i) >> 32), split_stream(split), 0u}, key);
    const uint64_t v = (uint64_t(u[0]) << 32) | u[1];
    const int64_t j = int64_t((__uint128_t(v) * uint64_t(kCompositionColors - 1)) >> 64);
    const int64_t held = held_out_color(d[i]);
    p[i] = j < held ? j : j + 1;  // the j-th seen colour of the digit
  }
  return out;
}

CompositionSet seen_set(const ImageSet& gray, uint64_t seed, PaintSplit split) {
  DIFFLAB_CHECK(gray.labels.defined(), "seen_set: the grayscale set has no labels");
  return paint(gray, draw_seen_colors(gray.labels, seed, split),
               tensor::arange(0, double(gray.size()), 1, DType::i64));
}

CompositionSet held_out_set(const ImageSet& gray_test, const Composition& c) {
  DIFFLAB_CHECK(is_held_out(c), "held_out_set: ", composition_name(c),
                " is a seen composition (held out: digit d in colour d mod 5)");
  DIFFLAB_CHECK(gray_test.labels.defined() && gray_test.labels.dtype() == DType::i64,
                "held_out_set: the grayscale set needs i64 digit labels");
  std::vector<int64_t> rows;
  const std::vector<int64_t> d = gray_test.labels.to_vector<int64_t>();
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i] == c.digit) rows.push_back(int64_t(i));
  DIFFLAB_CHECK(!rows.empty(), "held_out_set: the set has no digit ", c.digit);
  const int64_t n = int64_t(rows.size());
  const Tensor source = tensor::from_vector<int64_t>(rows, {n});
  return paint(subset(gray_test, source), tensor::full({n}, double(c.color), DType::i64), source);
}

ColorMnistA make_color_mnist_a(const MnistData& mnist, uint64_t seed) {
  ColorMnistA a;
  a.train = seen_set(mnist.train, seed, PaintSplit::train);
  a.test = seen_set(mnist.test, seed, PaintSplit::test);
  for (const Composition& c : held_out_compositions())
    a.held_out.push_back(held_out_set(mnist.test, c));
  return a;
}

Tensor luminance(const Tensor& images) {
  check_rgb_images(images, "luminance");
  return tensor::amax(images, 1, true);
}

Tensor judge_colors(const Tensor& images, const std::vector<Rgb>& palette) {
  check_rgb_images(images, "judge_colors");
  DIFFLAB_CHECK(!palette.empty(), "judge_colors: empty palette");
  const Tensor x = images.contiguous();
  const int64_t n = x.size(0), hw = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({n}, DType::i64);
  int64_t* p = out.data<int64_t>();
  const float* s = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    std::array<double, 3> hue{};
    p[i] = masked_hue(s + i * 3 * hw, hw, hue) ? nearest_entry(hue, palette) : -1;
  }
  return out;
}

}  // namespace difflab::experiments
