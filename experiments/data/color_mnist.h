// ColorMNIST: each grayscale digit g ∈ [0, 1] is painted x = g·c_fg + (1 − g)·c_bg (the blend
// of the concept-discovery spec §3.11), with c_fg one of K palette colours chosen per sample and
// c_bg a fixed background, then scaled to [−1, 1]. Label = digit·K + colour index, so the
// number of classes is 10·K.
//
// The colour of sample i is drawn from Philox with key `seed` and counter i, so it depends only
// on (seed, i): the same seed always reproduces the same data set, and a prefix of a set gets
// the colours of the whole set's prefix. To hold out (digit, colour) compositions, draw the
// colours, then filter with subset(). Use different seeds for train and test.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/data/image_set.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

struct Rgb {
  float r = 0, g = 0, b = 0;  // each in [0, 1]
};

// The default palette, in order: red, green, blue, yellow, cyan, magenta.
std::vector<Rgb> default_digit_palette();
std::vector<std::string> default_digit_palette_names();

struct ColorMnistOptions {
  int64_t num_colors = 6;  // K: the first K palette entries
  std::vector<Rgb> palette = default_digit_palette();
  Rgb background{0, 0, 0};  // black
  uint64_t seed = 0;        // colour draw per sample
};

struct ColorImageSet {
  ImageSet set;           // images f32 [N, 3, H, W] in [−1, 1]; labels = digit·K + colour
  tensor::Tensor digits;  // i64 [N]
  tensor::Tensor colors;  // i64 [N], 0..K−1
  int64_t num_colors = 0;
  int64_t num_classes() const { return 10 * num_colors; }
};

// Colour indices for samples 0..n−1 from (seed, sample index), uniform on 0..K−1.
tensor::Tensor draw_colors(int64_t n, int64_t num_colors, uint64_t seed);

// Colours a grayscale set (images [N, 1, H, W] in [−1, 1], digit labels 0..9) with the given
// per-sample colour indices (i64 [N], 0..K−1) or, in the overload without them, draw_colors.
ColorImageSet colorize(const ImageSet& gray, const tensor::Tensor& colors,
                       const ColorMnistOptions& opt = {});
ColorImageSet colorize(const ImageSet& gray, const ColorMnistOptions& opt = {});

}  // namespace difflab::experiments
