// MNIST rotation data (experiments/data/mnist_rotation.h): the bilinear rotation (exact quarter
// turns, identity, round trips), the (cos, sin) features, the logical angles a classifier grants,
// the conditional pairs whose labels are (a + u) mod 360, the mnist_rot / mnist_rot_yx data sets
// a consistency model with the image encoder trained on them by `train-cond`, the targets on the
// circle, and `difflab cdm --preset cdm_mnist_rot_tiny` end to end; on synthetic images, so no
// download is needed.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>

#include "experiments/cdm.h"
#include "experiments/cdm_rotation.h"
#include "experiments/data/mnist_rotation.h"
#include "experiments/dataset.h"
#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
#include "experiments/train_cond.h"
#include "nn/safetensors.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"
#include "tests/support/synthetic_mnist.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {

// [n, 1, s, s] images whose pixel (r, c) is f(i, r, c).
template <typename F>
Tensor make_images(int64_t n, int64_t s, F f) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < s; ++r)
      for (int64_t c = 0; c < s; ++c) v.push_back(float(f(i, r, c)));
  return tensor::from_vector(v, {n, 1, s, s});
}

double max_abs(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.contiguous().to_vector<float>(),
                           vb = b.contiguous().to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, double(std::abs(va[i] - vb[i])));
  return m;
}

// max |a − b| over the pixels of 16×16 images within 6 px of the centre (a turn fills the corners
// with black from outside the source).
double max_abs_inside(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.contiguous().to_vector<float>(),
                           vb = b.contiguous().to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double r = double(i % 256 / 16) - 7.5, c = double(i % 16) - 7.5;
    if (r * r + c * c < 36.0) m = std::max(m, double(std::abs(va[i] - vb[i])));
  }
  return m;
}

// Smooth blobs (σ = 3 px) on a 16×16 image, centred `lift` pixels above the image centre and
// turned counter-clockwise by deg[i] about it (asymmetric under every quarter turn).
Tensor blob(const std::vector<double>& deg, double lift = 2.5) {
  return make_images(int64_t(deg.size()), 16, [&](int64_t i, int64_t r, int64_t c) {
    const double a = deg[size_t(i)] * 3.14159265358979323846 / 180.0;
    const double x = -lift * std::sin(a), y = lift * std::cos(a);  // display coordinates
    const double dr = double(r) - (7.5 - y), dc = double(c) - (7.5 + x);
    return 2.0 * std::exp(-(dr * dr + dc * dc) / 18.0) - 1.0;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(rotation_quarter_turns_are_exact_and_counter_clockwise) {
  const Tensor x = make_images(2, 5, [](int64_t i, int64_t r, int64_t c) {
    return 0.01 * double(i * 25 + r * 5 + c) - 0.5;
  });
  const Tensor r90 = rotate_images(x, {90.0, 90.0});
  const std::vector<float> src = x.to_vector<float>(), out = r90.to_vector<float>();
  // Counter-clockwise as displayed: the top row becomes the left column, read bottom-up.
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t c = 0; c < 5; ++c)
        BOOST_TEST(out[size_t(i * 25 + r * 5 + c)] == src[size_t(i * 25 + c * 5 + (4 - r))],
                   boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(max_abs(rotate_images(x, {0.0, 360.0}), x) < 1e-6);
  BOOST_TEST(max_abs(rotate_images(rotate_images(x, {180.0, 270.0}), {180.0, 90.0}), x) < 1e-6);
}

BOOST_AUTO_TEST_CASE(rotation_round_trip_and_black_fill) {
  const std::vector<double> deg{33.0, 141.0, 287.5};
  const Tensor x = blob({0.0, 0.0, 0.0});
  const Tensor there = rotate_images(x, deg);
  BOOST_TEST(max_abs(there, x) > 0.5);  // the blob moved
  // ... to where the analytic blob turned about the centre is (bilinear error only).
  BOOST_TEST(max_abs_inside(there, blob(deg)) < 0.08);  // the wrong turn: about 0.6
  BOOST_TEST(max_abs_inside(rotate_images(there, {-33.0, -141.0, -287.5}), x) < 0.15);
  // Corners of a 45° turn read outside the source: black.
  const Tensor white = make_images(1, 8, [](int64_t, int64_t, int64_t) { return 1.0; });
  const std::vector<float> w = rotate_images(white, {45.0}).to_vector<float>();
  BOOST_TEST(w[0] == -1.0f);
  BOOST_TEST(w[3 * 8 + 3] == 1.0f, boost::test_tools::tolerance(1e-6f));
  BOOST_CHECK_EXCEPTION(rotate_images(x, {1.0}), Error,
                        [](const Error& e) { return message_has(e, {"1 angles for 3 images"}); });
  BOOST_CHECK_EXCEPTION(rotate_images(tensor::zeros({2, 4}), {1.0, 2.0}), Error,
                        [](const Error& e) { return message_has(e, {"[N, C, H, W]"}); });
}

BOOST_AUTO_TEST_CASE(rotation_angle_features_round_trip) {
  const std::vector<double> deg{0.0, 45.0, 179.0, 181.0, 359.5};
  const std::vector<double> back = feature_angles(angle_features(deg));
  for (size_t i = 0; i < deg.size(); ++i) BOOST_TEST(angle_gap(back[i], deg[i]) < 1e-4);
  BOOST_TEST(angle_gap(350.0, 10.0) == 20.0);
  BOOST_TEST(angle_gap(-90.0, 270.0) == 0.0);
  BOOST_TEST(angle_gap(0.0, 180.0) == 180.0);
}

// Digit 0: a plus (symmetric under every quarter turn); digit 1: a bar at the top. The stand-in
// classifier reads class 1 only when the top half is brighter than the bottom, class 0 when
// the image is left-right and top-bottom balanced.
BOOST_AUTO_TEST_CASE(rotation_logical_angles_and_pairs) {
  const int64_t s = 9;
  const Tensor plus = make_images(
      1, s, [](int64_t, int64_t r, int64_t c) { return r == 4 || c == 4 ? 1.0 : -1.0; });
  const Tensor bar = make_images(
      1, s, [](int64_t, int64_t r, int64_t c) { return r == 1 && c >= 2 && c <= 6 ? 1.0 : -1.0; });
  ImageSet digits{tensor::cat({plus, bar}, 0), tensor::from_vector<int64_t>({0, 1}, {2})};
  DigitProbabilities probs = [s](const Tensor& images) {
    const std::vector<float> v = images.to_vector<float>();
    std::vector<double> p;
    for (int64_t i = 0; i < images.size(0); ++i) {
      double top = 0, bottom = 0;
      for (int64_t r = 0; r < s; ++r)
        for (int64_t c = 0; c < s; ++c)
          (r < 4 ? top : r > 4 ? bottom : top) += r == 4 ? 0.0 : v[size_t(i * s * s + r * s + c)];
      const bool one = top > bottom + 1.0;
      p.push_back(one ? 0.0 : 1.0), p.push_back(one ? 1.0 : 0.0);
    }
    return tensor::from_vector(p, {images.size(0), 2}, DType::f32);
  };
  const auto angles = logical_angles(digits, probs, 0.99);
  BOOST_TEST(angles[0] == (std::vector<double>{0, 90, 180, 270}), boost::test_tools::per_element());
  BOOST_TEST(angles[1] == (std::vector<double>{0}), boost::test_tools::per_element());

  tensor::Generator g(3);
  const RotationPairs p = rotation_pairs(digits, angles, 3, g);
  BOOST_REQUIRE(p.images.size(0) == (4 + 1) * 3);
  BOOST_TEST(p.labels.to_vector<int64_t>() ==
                 (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}),
             boost::test_tools::per_element());
  const std::vector<double> back = feature_angles(p.angles);
  for (int64_t j = 0; j < 15; ++j) {
    BOOST_TEST(angle_gap(back[size_t(j)], p.degrees[size_t(j)]) < 1e-3);
    BOOST_TEST(p.all_angles[size_t(j)].size() == (j < 12 ? 4u : 1u));
  }
  // Each plus row's angle set is its u plus the four quarter turns; its label is one of them.
  for (int64_t j = 0; j < 12; ++j) {
    const double u = p.all_angles[size_t(j)][0];
    BOOST_TEST(angle_gap(p.all_angles[size_t(j)][2], u + 180.0) < 1e-9);
    bool found = false;
    for (double a : p.all_angles[size_t(j)])
      found = found || angle_gap(a, p.degrees[size_t(j)]) < 1e-9;
    BOOST_TEST(found);
  }
  // The bar rows are the bar rotated by their label.
  for (int64_t j = 12; j < 15; ++j)
    BOOST_TEST(max_abs(p.images.slice(0, j, j + 1), rotate_images(bar, {p.degrees[size_t(j)]})) <
               1e-6);
  BOOST_CHECK_EXCEPTION(logical_angles(digits, probs, 1.0), Error,
                        [](const Error& e) { return message_has(e, {"threshold"}); });
}

BOOST_AUTO_TEST_CASE(rotation_data_sets_on_synthetic_digits) {
  const std::string root = difflab::testing::fresh_temp_dir("mnist_rot_data");
  difflab::testing::use_synthetic_mnist(root + "/mnist.bin");
  DataSettings s;
  s.name = "mnist_rot", s.copies = 2, s.seed = 5;
  const Dataset prior = load_dataset(s);
  BOOST_TEST(prior.images);
  BOOST_TEST(prior.train.shape() == (tensor::Shape{900 * 2, 1, 28, 28}),
             boost::test_tools::per_element());
  BOOST_TEST(prior.test.size(0) == 100);
  s.name = "mnist_rot_yx";
  const Dataset yx = load_dataset(s);
  BOOST_TEST(!yx.images);
  const int64_t m = yx.train.size(0);
  BOOST_TEST(m >= 900 * 2);
  BOOST_TEST(yx.train.shape() == (tensor::Shape{m, 2}), boost::test_tools::per_element());
  BOOST_TEST(yx.train_cond.shape() == (tensor::Shape{m, 784}), boost::test_tools::per_element());
  BOOST_TEST(yx.reference_cond.size(0) == int64_t(yx.reference_angle_sets.size()));
  // Every reference label is one of its row's angles; the angle sets hold 1 to 4 angles.
  const std::vector<double> ref = feature_angles(yx.reference);
  for (size_t i = 0; i < ref.size(); ++i) {
    double gap = 180;
    for (double a : yx.reference_angle_sets[i]) gap = std::min(gap, angle_gap(a, ref[i]));
    BOOST_TEST(gap < 1e-3);
    BOOST_TEST(
        (yx.reference_angle_sets[i].size() >= 1u && yx.reference_angle_sets[i].size() <= 4u));
  }
  BOOST_TEST(yx.description.find("mnist_rot_yx") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rotation_consistency_model_trains_with_the_image_encoder) {
  const std::string root = difflab::testing::fresh_temp_dir("mnist_rot_cond");
  difflab::testing::use_synthetic_mnist(root + "/mnist.bin");
  CommandArgs a;
  a.run_dir = root + "/cond";
  a.threads = 1;
  a.sets = {"data.name=mnist_rot_yx",
            "data.copies=1",
            "model.cond_encoder=cnn",
            "model.hidden=16",
            "model.blocks=1",
            "cond.noise=0.05",
            "cond.pixel_dropout=0.1",
            "train.steps=4",
            "train.batch=8",
            "train.log_every=2",
            "train.eval_every=4",
            "train.checkpoint_every=4",
            "ict.s1=20",
            "eval.n=32"};
  BOOST_REQUIRE(run_train_cond(a) == 0);
  const std::string metrics = read_file(root + "/cond/metrics.csv");
  for (const char* k : {"angle_hit15", "angle_gap_median", "angle_norm"})
    BOOST_TEST(metrics.find(k) != std::string::npos, k);
  BOOST_TEST(read_file(root + "/cond/report.html").find("angle_hit15") != std::string::npos);
  // eval reproduces the training's last evaluation (the same weights, noise and references), and
  // sample draws a grid.
  CommandArgs e;
  e.run_dir = root + "/cond";
  e.threads = 1;
  BOOST_REQUIRE(run_eval(e) == 0);
  auto last = [&](const std::string& name) {
    double v = NAN;
    for (const auto& r : RunFolder(root + "/cond").read_metrics())
      if (r.metric == name) v = r.value;
    return v;
  };
  BOOST_TEST(last("angle_hit15[ladder1]") == last("angle_hit15"));
  BOOST_TEST(last("angle_gap_median[ladder1]") == last("angle_gap_median"));
  BOOST_TEST(run_sample(e) == 0);
  BOOST_TEST(std::filesystem::exists(root + "/cond/samples/sample_ladder1.png"));
  // The curriculum's cap cannot fall below its start (s0 = 10).
  CommandArgs low = a;
  low.run_dir = root + "/low";
  low.sets.push_back("ict.s1=5");
  BOOST_CHECK_EXCEPTION(run_train_cond(low), Error, [](const Error& e) {
    return message_has(e, {"s0=10", "s1=5"});
  });
  // The encoder reads 28×28 digits only.
  CommandArgs bad;
  bad.run_dir = root + "/bad";
  bad.sets = {"data.name=cdm2d_yx", "model.cond_encoder=cnn"};
  BOOST_CHECK_EXCEPTION(run_train_cond(bad), Error, [](const Error& e) {
    return message_has(e, {"model.cond_encoder=cnn", "784", "cdm2d_yx", "has 1"});
  });
}

// The encoder's dropout (0.1) draws from the run's dropout stream, kept in the state: a run
// interrupted between checkpoints and resumed ends with the bits of the uninterrupted one.
BOOST_AUTO_TEST_CASE(resume_with_dropout_is_bit_exact) {
  const std::string root = difflab::testing::fresh_temp_dir("mnist_rot_dropout");
  difflab::testing::use_synthetic_mnist(root + "/mnist.bin");
  auto args = [&](const std::string& dir) {
    CommandArgs a;
    a.run_dir = root + "/" + dir;
    a.threads = 1;
    a.sets = {"data.name=mnist_rot_yx",
              "data.copies=1",
              "model.cond_encoder=cnn",
              "model.encoder_dropout=0.1",
              "model.hidden=16",
              "model.blocks=1",
              "train.steps=8",
              "train.batch=8",
              "train.log_every=1",
              "train.eval_every=8",
              "train.checkpoint_every=8",
              "ict.s1=20",
              "eval.n=16"};
    return a;
  };
  BOOST_REQUIRE(run_train_cond(args("straight")) == 0);
  CommandArgs first = args("resumed");
  first.sets.push_back("train.stop_after=3");
  BOOST_REQUIRE(run_train_cond(first) == 0);
  CommandArgs again;
  again.run_dir = root + "/resumed";
  again.threads = 1;
  again.resume = true;
  again.sets = {"train.stop_after=0"};
  BOOST_REQUIRE(run_train_cond(again) == 0);
  const auto a = nn::load_safetensors(root + "/straight/checkpoints/state.safetensors");
  const auto b = nn::load_safetensors(root + "/resumed/checkpoints/state.safetensors");
  BOOST_REQUIRE(a.tensors.size() == b.tensors.size());
  for (auto& [k, t] : a.tensors) {
    BOOST_REQUIRE(b.tensors.count(k));
    BOOST_TEST(difflab::testing::same_bits(t, b.tensors.at(k)), "tensor " << k);
  }
  BOOST_TEST(read_file(root + "/straight/metrics.csv") == read_file(root + "/resumed/metrics.csv"));
}

BOOST_AUTO_TEST_CASE(rotation_targets_draw_their_densities) {
  tensor::Generator g(11);
  for (const std::string& name : kRotationTargets) {
    const std::vector<double> deg = feature_angles(rotation_target(name)(20000, g));
    // The share in [−30°, 30°] against the density's integral there.
    double in = 0, expect = 0;
    for (double d : deg) in += angle_gap(d, 0.0) <= 30.0 ? 1.0 / 20000 : 0.0;
    for (int k = -300; k < 300; ++k)
      expect += rotation_target_density(name, (k + 0.5) / 10.0) / 10.0;
    BOOST_TEST(std::abs(in - expect) < 0.011);  // 4 standard errors
    double total = 0;
    for (int k = 0; k < 3600; ++k) total += rotation_target_density(name, k / 10.0) / 10.0;
    BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-6));
  }
  BOOST_TEST(rotation_target_density("bimodal", 180.0) == rotation_target_density("bimodal", 0.0),
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(digits_of_interest("uniform") == (std::vector<int64_t>{0}),
             boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(rotation_target("spiral"), Error, [](const Error& e) {
    return message_has(e, {"spiral", "unimodal"});
  });
}

BOOST_AUTO_TEST_CASE(rotation_cdm_trains_its_models_and_runs_every_method) {
  namespace fs = std::filesystem;
  const std::string root = difflab::testing::fresh_temp_dir("mnist_rot_cdm");
  difflab::testing::use_synthetic_mnist(root + "/mnist.bin");
  CommandArgs a;
  a.preset = "cdm_mnist_rot_tiny";
  a.run_dir = root + "/cdm";
  a.threads = 1;
  a.sets = {"cdm.prior=" + root + "/prior", "cdm.inner=" + root + "/cm"};
  BOOST_REQUIRE(run_cdm(a) == 0);
  for (const char* f :
       {"prior/checkpoints/ema.safetensors", "cm/checkpoints/model.safetensors", "cdm/report.html",
        "cdm/methods/bimodal-mlgdf.json", "cdm/methods/bimodal-prior.json",
        "cdm/methods/bimodal-best_of.json", "cdm/samples/bimodal-mlgdf.png"})
    BOOST_TEST(fs::exists(root + "/" + f), f);
  RunFolder run(root + "/cdm");
  int scored = 0;
  for (const auto& r : run.read_metrics())
    if (r.metric.rfind("swd_mean[bimodal/", 0) == 0) {
      BOOST_TEST((std::isfinite(r.value) && r.value >= 0), r.metric);
      ++scored;
    }
  BOOST_TEST(scored == 3);
  const std::string html = read_file(root + "/cdm/report.html");
  BOOST_TEST(html.find("Target: bimodal") != std::string::npos);
  // --resume keeps finished methods as they are.
  const std::string kept = read_file(root + "/cdm/methods/bimodal-mlgdf.json");
  a.resume = true;
  BOOST_REQUIRE(run_cdm(a) == 0);
  BOOST_TEST(read_file(root + "/cdm/methods/bimodal-mlgdf.json") == kept);
  CommandArgs bad = a;
  bad.resume = false;
  bad.sets.push_back("cdm.methods=mlgd");
  BOOST_CHECK_EXCEPTION(run_cdm(bad), Error, [](const Error& e) {
    return message_has(e, {"mlgd", "mnist_rot"});
  });
}
