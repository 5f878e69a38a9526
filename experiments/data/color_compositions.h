// ColorMNIST benchmark A of the concept-discovery spec (§3.10–3.11): (digit, foreground colour)
// compositions on a black background, 10 of the 50 held out of training, and the judges that
// read a generated image's colour and luminance back.
//
// Palette (index: name, RGB in [0, 1]): 0 red (1, 0, 0), 1 green (0, 1, 0), 2 blue (0, 0, 1),
// 3 yellow (1, 1, 0), 4 pink (1, 0.4, 0.7). A grayscale digit g ∈ [0, 1] is painted g·c
// (colorize() of color_mnist.h with a black background) and scaled to [−1, 1].
//
// Held out: digit d in colour d mod 5 (a Latin square: every digit loses exactly one colour,
// every colour is held out for exactly two digits). The 40 seen compositions are the classes
// 0..39 in (digit, colour) order, skipping the held-out ones: digit d's seen colours get classes
// 4d..4d+3 in colour order.
//
// Data: each training image (the train split of mnist.h) is painted a colour drawn uniformly
// among its digit's 4 seen colours, by Philox keyed by the seed at counter (sample index, split),
// so it depends only on (seed, split, index). The colours are drawn ONCE per sample, when the set
// is built; the spec's "seen compositions re-drawn each epoch" is not followed: an epoch sees
// the same painted images every time. The seen test set paints the test split by the same rule
// with the test split's stream. Held-out images paint every test-split digit d in the held-out
// colour (about 100 per composition), for evaluation only; no training image ever has a
// held-out composition.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/data/color_mnist.h"
#include "experiments/data/image_set.h"
#include "experiments/data/mnist.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

inline constexpr int64_t kCompositionColors = 5;     // foreground palette size
inline constexpr int64_t kCompositions = 50;         // 10 digits × 5 colours
inline constexpr int64_t kSeenCompositions = 40;     // the classes of the training set
inline constexpr int64_t kHeldOutCompositions = 10;  // one per digit, two per colour

struct Composition {
  int64_t digit = 0;  // 0..9
  int64_t color = 0;  // palette index 0..4
  bool operator==(const Composition&) const = default;
};

// The 5 foreground colours and their names, in palette order.
std::vector<Rgb> composition_palette();
std::vector<std::string> composition_palette_names();

// The colour digit d never has in training: d mod 5.
int64_t held_out_color(int64_t digit);
bool is_held_out(const Composition& c);
// The class (0..39) of a seen composition, −1 for a held-out one.
int64_t class_of(int64_t digit, int64_t color);
// The composition of class 0..39.
Composition composition_of(int64_t cls);
// The 10 held-out compositions, in digit order.
std::vector<Composition> held_out_compositions();
// "7-pink".
std::string composition_name(const Composition& c);
// composition_name of classes 0..39, in class order.
std::vector<std::string> seen_class_names();

enum class PaintSplit { train, test };

// Colour of each sample (i64 [N], palette index) given its digit (i64 [N], 0..9): uniform among
// the digit's 4 seen colours, from (seed, split, sample index).
tensor::Tensor draw_seen_colors(const tensor::Tensor& digits, uint64_t seed, PaintSplit split);

struct CompositionSet {
  // images f32 [N, 3, H, W] in [−1, 1]; labels = class_of(digit, colour): the seen class
  // 0..39, or −1 throughout a held-out set (it has no class: never train on it).
  ImageSet set;
  tensor::Tensor digits;  // i64 [N], 0..9
  tensor::Tensor colors;  // i64 [N], palette index 0..4
  tensor::Tensor source;  // i64 [N]: the row of the grayscale split each image was painted from
};

// A grayscale split (images f32 [N, 1, H, W] in [−1, 1], digit labels) painted in seen colours
// drawn by draw_seen_colors.
CompositionSet seen_set(const ImageSet& gray, uint64_t seed, PaintSplit split);
// Every digit c.digit of `gray_test` painted colour c.color (c must be held out).
CompositionSet held_out_set(const ImageSet& gray_test, const Composition& c);

struct ColorMnistA {
  CompositionSet train;                  // the train split in seen colours (40 classes)
  CompositionSet test;                   // the test split in seen colours
  std::vector<CompositionSet> held_out;  // per held_out_compositions() entry, from the test split
};
ColorMnistA make_color_mnist_a(const MnistData& mnist, uint64_t seed);

// Per-pixel maximum over the channels: images f32 [N, 3, H, W] in [−1, 1] → [N, 1, H, W] in
// [−1, 1]. On a black background every palette colour has a channel equal to 1, so for a
// painted digit max_c g·c_c = g: this recovers the grayscale digit exactly (bit for bit on the
// real train split; in general up to the float rounding of the blend, ≤ 1.2e−7).
tensor::Tensor luminance(const tensor::Tensor& images);

// The palette index of each image's colour, i64 [N] (−1 when the digit's mask is empty):
//   v = (x + 1)/2 clamped to [0, 1] per channel, L = max over channels of v;
//   mask = pixels with L > 0.5 (pixels with a non-finite channel are left out);
//   colour = (Σ_mask v) / (Σ_mask L), the mean colour divided by the mean luminance, so a faint
//   stroke reads as its hue (for a painted digit it is c exactly);
//   answer = the palette entry nearest to colour in Euclidean RGB distance (ties: lower index).
tensor::Tensor judge_colors(const tensor::Tensor& images, const std::vector<Rgb>& palette);

}  // namespace difflab::experiments
