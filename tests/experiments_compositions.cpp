// ColorMNIST benchmark A (experiments/data/color_compositions.h): the Latin-square hold-out and
// class numbering, the seen training/test sets and the held-out images (on synthetic grayscale
// digits, so no download is needed), the luminance and colour judges, the color_mnist_a data set;
// and the same on the real digits when scripts/fetch_mnist.sh has run.
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "experiments/data/color_compositions.h"
#include "experiments/dataset.h"
#include "experiments/io.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tests/support/check_message.h"
#include "tests/support/mnist_gate.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {

// Digit d gets `per_digit` 8×8 images: a stroke of ink whose pixels take the 256 levels of u8
// and whose position and peak encode (split, image), so no two images of either split are equal.
ImageSet synthetic_gray(int64_t per_digit, int64_t split) {
  const int64_t n = 10 * per_digit;
  Tensor px = tensor::zeros({n, 8, 8}, DType::u8);
  std::vector<int64_t> labels;
  uint8_t* p = px.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i / per_digit);
    for (int64_t j = 0; j < 24; ++j)  // three rows of ink, levels varying, peak 255
      p[i * 64 + (i % 5) * 8 + j] = uint8_t(j == 0 ? 255 : (i * 7 + j * 11 + split * 3) % 256);
  }
  return {pixels_to_images(px), tensor::from_vector<int64_t>(labels, {n})};
}

MnistData synthetic_mnist() { return {synthetic_gray(30, 0), synthetic_gray(6, 1)}; }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, double(std::abs(va[i] - vb[i])));
  return m;
}

// Share of images whose judged colour is the painted one.
double color_accuracy(const CompositionSet& s) {
  const auto j = judge_colors(s.set.images, composition_palette()).to_vector<int64_t>();
  const auto c = s.colors.to_vector<int64_t>();
  int64_t hits = 0;
  for (size_t i = 0; i < j.size(); ++i) hits += j[i] == c[i];
  return double(hits) / double(j.size());
}

// Every image of a seen set: a seen composition, labelled with its class, painted as recorded
// (judged colour) from its source row (luminance = the grayscale digit).
void check_seen_set(const CompositionSet& s, const ImageSet& gray) {
  const auto d = s.digits.to_vector<int64_t>(), c = s.colors.to_vector<int64_t>();
  const auto l = s.set.labels.to_vector<int64_t>(), src = s.source.to_vector<int64_t>();
  const auto g = gray.labels.to_vector<int64_t>();
  for (size_t i = 0; i < d.size(); ++i) {
    BOOST_TEST_REQUIRE(!is_held_out({d[i], c[i]}));
    BOOST_TEST_REQUIRE(l[i] == class_of(d[i], c[i]));
    BOOST_TEST_REQUIRE(src[i] == int64_t(i));
    BOOST_TEST_REQUIRE(d[i] == g[i]);
  }
  BOOST_TEST(color_accuracy(s) == 1.0);
  BOOST_TEST(max_abs_diff(luminance(s.set.images), gray.images) <= 1.2e-7);
}

// A held-out set: the composition throughout, label −1, from the test split's digits of c.digit
// (each source row's luminance is that test image, and no training image is one of them).
void check_held_out_set(const CompositionSet& s, const Composition& hc, const MnistData& m) {
  BOOST_TEST(is_held_out(hc));
  const auto test_digits = m.test.labels.to_vector<int64_t>();
  const int64_t expected = std::count(test_digits.begin(), test_digits.end(), hc.digit);
  BOOST_TEST_REQUIRE(s.set.size() == expected);
  for (int64_t v : s.digits.to_vector<int64_t>()) BOOST_TEST_REQUIRE(v == hc.digit);
  for (int64_t v : s.colors.to_vector<int64_t>()) BOOST_TEST_REQUIRE(v == hc.color);
  for (int64_t v : s.set.labels.to_vector<int64_t>()) BOOST_TEST_REQUIRE(v == -1);
  const Tensor lum = luminance(s.set.images);
  BOOST_TEST(max_abs_diff(lum, tensor::index_select(m.test.images, 0, s.source)) <= 1.2e-7);
  for (int64_t v : s.source.to_vector<int64_t>())
    BOOST_TEST_REQUIRE(test_digits[size_t(v)] == hc.digit);
  BOOST_TEST(color_accuracy(s) == 1.0);
}

// No held-out image's grayscale digit is any training image.
void check_disjoint_from_train(const CompositionSet& s, const ImageSet& train) {
  const Tensor lum = luminance(s.set.images).reshape({s.set.size(), -1});
  const Tensor tr = train.images.reshape({train.size(), -1});
  for (int64_t i = 0; i < lum.size(0); ++i)
    for (int64_t j = 0; j < tr.size(0); ++j)
      BOOST_TEST_REQUIRE(max_abs_diff(lum.slice(0, i, i + 1), tr.slice(0, j, j + 1)) > 1e-3);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(benchmark)

BOOST_AUTO_TEST_CASE(latin_square_classes_and_names) {
  BOOST_TEST(composition_palette().size() == 5u);
  BOOST_TEST(composition_palette()[4].g == 0.4f);
  BOOST_TEST(composition_palette_names()[4] == "pink");
  std::vector<int64_t> per_digit(10, 0), per_color(5, 0);
  std::set<int64_t> classes;
  int64_t expected_class = 0;
  for (int64_t d = 0; d < 10; ++d)
    for (int64_t c = 0; c < 5; ++c) {
      if (is_held_out({d, c})) {
        ++per_digit[size_t(d)], ++per_color[size_t(c)];
        BOOST_TEST(class_of(d, c) == -1);
        continue;
      }
      BOOST_TEST(class_of(d, c) == expected_class);  // (digit, colour) order, skipping held-out
      BOOST_TEST((composition_of(expected_class) == Composition{d, c}));
      classes.insert(expected_class++);
    }
  BOOST_TEST(expected_class == kSeenCompositions);
  BOOST_TEST(classes.size() == 40u);
  BOOST_TEST(per_digit == std::vector<int64_t>(10, 1), boost::test_tools::per_element());
  BOOST_TEST(per_color == std::vector<int64_t>(5, 2), boost::test_tools::per_element());
  const auto held = held_out_compositions();
  BOOST_TEST_REQUIRE(held.size() == size_t(kHeldOutCompositions));
  for (int64_t d = 0; d < 10; ++d) BOOST_TEST((held[size_t(d)] == Composition{d, d % 5}));
  BOOST_TEST(composition_name({7, 4}) == "7-pink");
  BOOST_TEST(composition_name(composition_of(class_of(7, 4))) == "7-pink");
  BOOST_TEST(composition_name(held[2]) == "2-blue");
  const auto names = seen_class_names();
  BOOST_TEST(names.size() == 40u);
  BOOST_TEST(names.front() == "0-green");
  BOOST_TEST(names.back() == "9-yellow");  // 9 loses pink
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_named) {
  auto has = [](std::vector<std::string> parts) {
    return [parts](const difflab::Error& e) {
      return std::all_of(parts.begin(), parts.end(),
                         [&e](const std::string& p) { return message_has(e, {p.c_str()}); });
    };
  };
  BOOST_CHECK_EXCEPTION(class_of(10, 0), difflab::Error, has({"class_of", "digit 10"}));
  BOOST_CHECK_EXCEPTION(class_of(3, 5), difflab::Error, has({"class_of", "colour index 5"}));
  BOOST_CHECK_EXCEPTION(composition_of(40), difflab::Error, has({"composition_of", "class 40"}));
  const MnistData m = synthetic_mnist();
  BOOST_CHECK_EXCEPTION(held_out_set(m.test, {7, 4}), difflab::Error,
                        has({"7-pink", "seen composition"}));
  ImageSet no_sevens = subset(m.test, tensor::arange(0, 6, 1, DType::i64));  // only 0s
  BOOST_CHECK_EXCEPTION(held_out_set(no_sevens, {7, 2}), difflab::Error, has({"no digit 7"}));
  ImageSet bad_label{m.test.images.slice(0, 0, 1), tensor::from_vector<int64_t>({11}, {1})};
  BOOST_CHECK_EXCEPTION(seen_set(bad_label, 0, PaintSplit::train), difflab::Error, has({"digit 11"}));
  BOOST_CHECK_EXCEPTION(luminance(m.test.images), difflab::Error,
                        has({"luminance", "[N, 3, H, W]"}));
  BOOST_CHECK_EXCEPTION(judge_colors(tensor::zeros({1, 3, 2, 2}), {}), difflab::Error,
                        has({"empty palette"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sets)

BOOST_AUTO_TEST_CASE(seen_draws_are_uniform_deterministic_and_split_apart) {
  std::vector<int64_t> digits;
  for (int64_t i = 0; i < 40000; ++i) digits.push_back(i % 10);
  const Tensor dg = tensor::from_vector<int64_t>(digits, {40000});
  const auto a = draw_seen_colors(dg, 5, PaintSplit::train).to_vector<int64_t>();
  BOOST_TEST(a == draw_seen_colors(dg, 5, PaintSplit::train).to_vector<int64_t>());
  BOOST_TEST(a != draw_seen_colors(dg, 5, PaintSplit::test).to_vector<int64_t>());
  BOOST_TEST(a != draw_seen_colors(dg, 6, PaintSplit::train).to_vector<int64_t>());
  const auto prefix = draw_seen_colors(dg.slice(0, 0, 50).contiguous(), 5, PaintSplit::train);
  BOOST_TEST(prefix.to_vector<int64_t>() == std::vector<int64_t>(a.begin(), a.begin() + 50),
             boost::test_tools::per_element());
  std::vector<int64_t> count(50, 0);
  for (size_t i = 0; i < a.size(); ++i) ++count[size_t(digits[i] * 5 + a[i])];
  for (int64_t d = 0; d < 10; ++d)
    for (int64_t c = 0; c < 5; ++c) {
      const int64_t n = count[size_t(d * 5 + c)];  // 1000 expected per seen colour, sd ≈ 27
      if (c == d % 5) {
        BOOST_TEST(n == 0);
      } else {
        BOOST_CHECK_MESSAGE(n > 880 && n < 1120, "digit " << d << " colour " << c << ": " << n);
      }
    }
}

BOOST_AUTO_TEST_CASE(no_training_image_has_a_held_out_composition) {
  const MnistData m = synthetic_mnist();
  const ColorMnistA a = make_color_mnist_a(m, 3);
  BOOST_TEST(a.train.set.size() == m.train.size());
  BOOST_TEST(a.test.set.size() == m.test.size());
  check_seen_set(a.train, m.train);
  check_seen_set(a.test, m.test);
  // With 30 images per digit every seen class shows up (fixed seed).
  std::vector<int64_t> counts = class_counts(a.train.set.labels, kSeenCompositions);
  BOOST_TEST(*std::min_element(counts.begin(), counts.end()) > 0);
  // The same seed paints the same set; train and test are painted by distinct streams.
  BOOST_TEST(make_color_mnist_a(m, 3).train.colors.to_vector<int64_t>() ==
             a.train.colors.to_vector<int64_t>());
  BOOST_TEST(seen_set(m.train, 3, PaintSplit::test).colors.to_vector<int64_t>() !=
             a.train.colors.to_vector<int64_t>());
}

BOOST_AUTO_TEST_CASE(held_out_images_come_only_from_the_test_split) {
  const MnistData m = synthetic_mnist();
  const ColorMnistA a = make_color_mnist_a(m, 3);
  const auto held = held_out_compositions();
  BOOST_TEST_REQUIRE(a.held_out.size() == held.size());
  for (size_t k = 0; k < held.size(); ++k) {
    check_held_out_set(a.held_out[k], held[k], m);
    check_disjoint_from_train(a.held_out[k], m.train);
  }
}

// data.name color_mnist_a through load_dataset, on a synthetic cache ($DIFFLAB_MNIST): 20 digits
// of each class, split 18/2.
BOOST_AUTO_TEST_CASE(color_mnist_a_data_set_on_a_synthetic_cache) {
  const ImageSet gray = synthetic_gray(20, 0);
  Tensor px = tensor::zeros({200, 28, 28}, DType::u8);
  const Tensor src = gray.images.reshape({200, 64});
  for (int64_t i = 0; i < 200; ++i)  // the 8×8 digit in the top-left corner, back to u8
    for (int64_t j = 0; j < 64; ++j)
      px.data<uint8_t>()[i * 784 + (j / 8) * 28 + j % 8] =
          uint8_t(std::lround((src.data<float>()[i * 64 + j] + 1) * 127.5f));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("difflab_compositions_" + std::to_string(::getpid()) + ".bin"))
                               .string();
  write_mnist_cache(path, {px, gray.labels});
  ::setenv("DIFFLAB_MNIST", path.c_str(), 1);
  DataSettings s;
  s.name = "color_mnist_a";
  s.seed = 4;
  const Dataset d = load_dataset(s);
  const MnistData m = load_mnist(path);
  ::unsetenv("DIFFLAB_MNIST");
  std::filesystem::remove(path);
  BOOST_TEST(d.images);
  BOOST_TEST(d.num_classes == 40);
  BOOST_TEST(d.train.shape() == (tensor::Shape{180, 3, 28, 28}));
  BOOST_TEST(d.test.size(0) == 20);
  BOOST_TEST(d.train_labels.to_vector<int64_t>() ==
                 seen_set(m.train, 4, PaintSplit::train).set.labels.to_vector<int64_t>(),
             boost::test_tools::per_element());
  BOOST_TEST(max_abs_diff(d.test, seen_set(m.test, 4, PaintSplit::test).set.images) == 0.0);
  BOOST_TEST(d.description.find("10 compositions") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(judges)

BOOST_AUTO_TEST_CASE(luminance_is_the_grayscale_and_faint_strokes_keep_their_hue) {
  // One 1×4 image per palette colour: ink at levels 1, 0.6, 0.3 and background.
  const auto pal = composition_palette();
  const std::vector<float> g = {1.0f, 0.6f, 0.3f, 0.0f};
  std::vector<float> px;
  for (const Rgb& c : pal)
    for (float ch : {c.r, c.g, c.b})
      for (float v : g) px.push_back(2 * v * ch - 1);
  const Tensor img = tensor::from_vector<float>(px, {5, 3, 1, 4});
  const auto lum = luminance(img).to_vector<float>();
  for (size_t k = 0; k < 5; ++k)
    for (size_t j = 0; j < 4; ++j) BOOST_TEST(std::abs(lum[k * 4 + j] - (2 * g[j] - 1)) <= 1e-6f);
  BOOST_TEST(judge_colors(img, pal).to_vector<int64_t>() == (std::vector<int64_t>{0, 1, 2, 3, 4}),
             boost::test_tools::per_element());
  // A faint pink stroke (peak 0.55): the normalised mean colour is pink's hue.
  std::vector<float> faint;
  for (float ch : {pal[4].r, pal[4].g, pal[4].b})
    for (float v : {0.55f, 0.52f, 0.2f, 0.0f}) faint.push_back(2 * v * ch - 1);
  const Tensor f = tensor::from_vector<float>(faint, {1, 3, 1, 4});
  BOOST_TEST(judge_colors(f, pal).item() == 4);
  // Against a dark red the raw mean (≈ (0.53, 0.21, 0.37)) would be nearer (0.5, 0, 0).
  BOOST_TEST(judge_colors(f, {pal[4], Rgb{0.5f, 0, 0}}).item() == 0);
  // No pixel brighter than half: an empty mask, answered −1; a NaN pixel is left out.
  BOOST_TEST(judge_colors(tensor::full({1, 3, 1, 4}, -0.2), pal).item() == -1);
  std::vector<float> with_nan = px;
  with_nan[3] = std::nanf("");  // red image's background R
  BOOST_TEST(
      judge_colors(tensor::from_vector<float>(with_nan, {5, 3, 1, 4}), pal).to_vector<int64_t>() ==
          (std::vector<int64_t>{0, 1, 2, 3, 4}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(real_digits_when_fetched,
                     *boost::unit_test::precondition(difflab::testing::mnist_cache_present)) {
  const std::string path = std::string(DIFFLAB_SOURCE_DIR) + "/data/mnist.bin";
  const MnistData m = load_mnist(path);
  const ColorMnistA a = make_color_mnist_a(m, 0);
  check_seen_set(a.train, m.train);
  check_seen_set(a.test, m.test);
  BOOST_TEST_MESSAGE("luminance vs grayscale, max |difference| on the train split: "
                     << max_abs_diff(luminance(a.train.set.images), m.train.images));
  int64_t held_images = 0;
  for (size_t k = 0; k < a.held_out.size(); ++k) {
    check_held_out_set(a.held_out[k], held_out_compositions()[k], m);
    held_images += a.held_out[k].set.size();
    BOOST_TEST_MESSAGE(composition_name(held_out_compositions()[k])
                       << ": " << a.held_out[k].set.size() << " images, colour judge accuracy "
                       << color_accuracy(a.held_out[k]));
  }
  BOOST_TEST(held_images == m.test.size());  // every test digit, once, in its held-out colour
  ::setenv("DIFFLAB_MNIST", path.c_str(), 1);
  DataSettings s;
  s.name = "color_mnist_a";
  const Dataset d = load_dataset(s);
  BOOST_TEST(d.num_classes == 40);
  BOOST_TEST(d.train.size(0) == 8995);
  BOOST_TEST(d.test.size(0) == 1005);
  BOOST_TEST(d.train_labels.to_vector<int64_t>() == a.train.set.labels.to_vector<int64_t>());
  BOOST_TEST(d.description.find("10 compositions") != std::string::npos);
}
