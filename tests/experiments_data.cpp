// Data sets: the MNIST cache (format, errors, fixed stratified split; the real cache when
// scripts/fetch_mnist.sh has run), ColorMNIST, Fashion-MNIST's IDX reader (the Debian package's
// files when installed), the 2-D toys, Gaussian mixtures and the Ring/Raw MoG, batch iteration,
// PCA coordinates of images.
#include <unistd.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "experiments/data/batch_iterator.h"
#include "experiments/data/color_mnist.h"
#include "experiments/data/fashion_mnist.h"
#include "experiments/data/mnist.h"
#include "experiments/data/pca.h"
#include "experiments/data/ring_mog.h"
#include "experiments/data/toy2d.h"
#include "experiments/io.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"
#include "tests/support/mnist_gate.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {

std::filesystem::path temp_root() {
  return std::filesystem::temp_directory_path() /
         ("difflab_data_test_" + std::to_string(::getpid()));
}

std::string temp_dir() {
  std::filesystem::create_directories(temp_root());
  return temp_root().string();
}

// Removes the temporary files when the module ends.
struct TempCleanup {
  ~TempCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(temp_root(), ec);
  }
};

// Class c gets 10 + c images; pixel values encode (image index, position) so order is visible.
MnistRaw synthetic_raw() {
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 10; ++c)
    for (int64_t i = 0; i < 10 + c; ++i) labels.push_back(c);
  const int64_t n = int64_t(labels.size());
  MnistRaw raw{Tensor::empty({n, 28, 28}, DType::u8), tensor::from_vector<int64_t>(labels, {n})};
  uint8_t* p = raw.pixels.data<uint8_t>();
  for (int64_t i = 0; i < n * 784; ++i) p[i] = uint8_t((i / 784 + i % 784) % 256);
  return raw;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_REQUIRE(f != nullptr);
  BOOST_REQUIRE_EQUAL(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xFF), char((v >> 8) & 0xFF), char(v & 0xFF)};
}

double max_abs(const Tensor& a, const Tensor& b) {
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(TempCleanup);

BOOST_AUTO_TEST_SUITE(mnist_cache)

BOOST_AUTO_TEST_CASE(round_trip_and_stratified_split) {
  const std::string path = temp_dir() + "/mnist.bin";
  MnistRaw raw = synthetic_raw();
  write_mnist_cache(path, raw);
  MnistRaw back = read_mnist_cache(path);
  BOOST_TEST(back.pixels.shape() == raw.pixels.shape());
  BOOST_TEST(max_abs(back.pixels.to(DType::f64), raw.pixels.to(DType::f64)) == 0.0);
  BOOST_TEST(back.labels.to_vector<int64_t>() == raw.labels.to_vector<int64_t>());

  MnistData d = load_mnist(path);
  // ⌊n_c · 90/100⌋ per class: n_c = 10..19 → 9, 9, 10, 11, 12, 13, 14, 15, 16, 17.
  std::vector<int64_t> expect_train = {9, 9, 10, 11, 12, 13, 14, 15, 16, 17};
  BOOST_TEST(class_counts(d.train.labels, 10) == expect_train);
  BOOST_TEST(d.train.size() + d.test.size() == raw.labels.numel());
  BOOST_TEST(d.train.images.shape() == (tensor::Shape{d.train.size(), 1, 28, 28}));
  BOOST_TEST(d.train.images.dtype() == DType::f32);
  // The first train image is file image 0: pixel j = j % 256 → j/127.5 − 1.
  const float* im = d.train.images.data<float>();
  BOOST_TEST(im[0] == -1.0f);
  BOOST_TEST(std::abs(im[255] - 1.0f) < 1e-6);
  BOOST_TEST(std::abs(im[100] - (100 / 127.5f - 1.0f)) < 1e-6);
  // Test items of class 0 are file images 9 (the 10th): its first pixel is 9.
  BOOST_TEST(std::abs(d.test.images.data<float>()[0] - (9 / 127.5f - 1.0f)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(split_indices_partition_in_file_order) {
  std::vector<int64_t> labels = {0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0};  // 9 zeros, 3 ones
  auto [train, test] = stratified_split(tensor::from_vector<int64_t>(labels, {12}), 2, 70);
  // zeros at 0,2,4,6,7,8,9,10,11: ⌊9·0.7⌋ = 6 train; ones at 1,3,5: ⌊2.1⌋ = 2 train.
  BOOST_TEST(train.to_vector<int64_t>() == (std::vector<int64_t>{0, 1, 2, 3, 4, 6, 7, 8}));
  BOOST_TEST(test.to_vector<int64_t>() == (std::vector<int64_t>{5, 9, 10, 11}));
  BOOST_CHECK_EXCEPTION(stratified_split(tensor::from_vector<int64_t>(labels, {12}), 2, 101),
                        difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"train_percent"}); });
}

BOOST_AUTO_TEST_CASE(missing_truncated_and_corrupt_caches_are_refused) {
  const std::string dir = temp_dir();
  BOOST_CHECK_EXCEPTION(read_mnist_cache(dir + "/nope.bin"), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"nope.bin", "scripts/fetch_mnist.sh"});
                        });
  const std::string path = dir + "/trunc.bin";
  write_mnist_cache(path, synthetic_raw());
  std::string bytes = read_file(path);
  write_file_atomic(path, bytes.substr(0, bytes.size() - 7));
  BOOST_CHECK_EXCEPTION(read_mnist_cache(path), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"trunc.bin", "truncated", "fetch_mnist.sh --force"});
  });
  write_file_atomic(path, bytes.substr(0, 10));
  BOOST_CHECK_EXCEPTION(read_mnist_cache(path), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"truncated"}); });
  std::string bad = bytes;
  bad[0] = 'X';
  write_file_atomic(path, bad);
  BOOST_CHECK_EXCEPTION(read_mnist_cache(path), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"magic"}); });
  bad = bytes;
  bad[bad.size() - 1] = char(12);  // a label that is not a digit
  write_file_atomic(path, bad);
  BOOST_CHECK_EXCEPTION(read_mnist_cache(path), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"label 12"}); });
}

BOOST_AUTO_TEST_CASE(real_cache_when_fetched,
                     *boost::unit_test::precondition(difflab::testing::mnist_cache_present)) {
  const std::string path = std::string(DIFFLAB_SOURCE_DIR) + "/data/mnist.bin";
  MnistRaw raw = read_mnist_cache(path);
  BOOST_TEST(raw.labels.numel() == 10000);
  std::vector<int64_t> counts = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
  BOOST_TEST(class_counts(raw.labels, 10) == counts);
  MnistData d = load_mnist(path);
  BOOST_TEST(d.train.size() == 8995);
  BOOST_TEST(d.test.size() == 1005);
  // MNIST's mean intensity is ≈ 0.13 of full scale: ≈ −0.74 in [−1, 1].
  double mean = 0;
  for (float v : d.test.images.to_vector<float>()) mean += v;
  mean /= double(d.test.images.numel());
  BOOST_TEST(mean > -0.8);
  BOOST_TEST(mean < -0.68);
  BOOST_TEST(d.train.images.to_vector<float>().front() >= -1.0f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(color_mnist)

BOOST_AUTO_TEST_CASE(blend_labels_and_deterministic_colors) {
  // Two 2×2 "digits": pixels −1 (background), 1 (ink) and 0 (half).
  ImageSet gray{tensor::from_vector<float>({-1, 1, 0, 1, 1, -1, -1, 0}, {2, 1, 2, 2}),
                tensor::from_vector<int64_t>({3, 7}, {2})};
  ColorMnistOptions opt;
  opt.num_colors = 4;
  opt.background = {0, 0, 0.5f};
  ColorImageSet c = colorize(gray, tensor::from_vector<int64_t>({3, 1}, {2}), opt);
  BOOST_TEST(c.set.images.shape() == (tensor::Shape{2, 3, 2, 2}));
  BOOST_TEST(c.set.labels.to_vector<int64_t>() == (std::vector<int64_t>{3 * 4 + 3, 7 * 4 + 1}));
  BOOST_TEST(c.num_classes() == 40);
  // Sample 0, colour 3 = yellow (1, 1, 0), background (0, 0, 0.5) → [−1, 1] scale.
  const std::vector<float> v = c.set.images.to_vector<float>();
  BOOST_TEST(v[0] == -1.0f);      // R at background
  BOOST_TEST(v[1] == 1.0f);       // R at ink
  BOOST_TEST(v[2] == 0.0f);       // R at half: 0.5·1 → 0
  BOOST_TEST(v[8 + 0] == 0.0f);   // B at background: 0.5 → 0
  BOOST_TEST(v[8 + 1] == -1.0f);  // B at ink: 0
  BOOST_TEST(v[8 + 2] == -0.5f);  // B at half: 0.5·0.5 = 0.25 → −0.5

  Tensor a = draw_colors(6000, 6, 11), b = draw_colors(6000, 6, 11),
         other = draw_colors(6000, 6, 12);
  BOOST_TEST(a.to_vector<int64_t>() == b.to_vector<int64_t>());
  BOOST_TEST(a.to_vector<int64_t>() != other.to_vector<int64_t>());
  // A prefix keeps its colours (keyed by sample index).
  Tensor prefix = draw_colors(10, 6, 11);
  BOOST_TEST(prefix.to_vector<int64_t>() == a.slice(0, 0, 10).to_vector<int64_t>());
  for (int64_t n : class_counts(a, 6)) {  // 1000 expected, sd ≈ 29
    BOOST_TEST(n > 850);
    BOOST_TEST(n < 1150);
  }
  ColorImageSet seeded = colorize(gray, ColorMnistOptions{});
  BOOST_TEST(seeded.colors.to_vector<int64_t>() == draw_colors(2, 6, 0).to_vector<int64_t>());
}

BOOST_AUTO_TEST_CASE(bad_options_are_named) {
  ImageSet gray{tensor::zeros({1, 1, 2, 2}), tensor::from_vector<int64_t>({3}, {1})};
  ColorMnistOptions opt;
  opt.num_colors = 9;
  BOOST_CHECK_EXCEPTION(colorize(gray, tensor::from_vector<int64_t>({0}, {1}), opt), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"num_colors 9"}); });
  BOOST_CHECK_EXCEPTION(colorize(gray, tensor::from_vector<int64_t>({6}, {1})), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"colour index 6"}); });
  ImageSet rgb{tensor::zeros({1, 3, 2, 2}), gray.labels};
  BOOST_CHECK_EXCEPTION(colorize(rgb), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"grayscale"}); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fashion_mnist)

BOOST_AUTO_TEST_CASE(idx_reader_on_synthetic_files) {
  const std::string dir = temp_dir();
  std::string images = be32(0x803) + be32(3) + be32(2) + be32(2);
  for (int i = 0; i < 12; ++i) images.push_back(char(i * 20));
  std::string labels = be32(0x801) + be32(3) + std::string{char(4), char(0), char(9)};
  write_gz(dir + "/im.gz", images);
  write_gz(dir + "/lb.gz", labels);
  ImageSet s = read_idx_images(dir + "/im.gz", dir + "/lb.gz");
  BOOST_TEST(s.images.shape() == (tensor::Shape{3, 1, 2, 2}));
  BOOST_TEST(s.labels.to_vector<int64_t>() == (std::vector<int64_t>{4, 0, 9}));
  BOOST_TEST(std::abs(s.images.to_vector<float>()[5] - (100 / 127.5f - 1)) < 1e-6);

  write_gz(dir + "/lb2.gz", be32(0x801) + be32(2) + std::string{char(1), char(2)});
  BOOST_CHECK_EXCEPTION(read_idx_images(dir + "/im.gz", dir + "/lb2.gz"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"count mismatch"}); });
  BOOST_CHECK_EXCEPTION(read_idx_images(dir + "/lb.gz", dir + "/lb.gz"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"0x00000803"}); });
  write_gz(dir + "/im3.gz", images.substr(0, images.size() - 1));
  BOOST_CHECK_EXCEPTION(read_idx_images(dir + "/im3.gz", dir + "/lb.gz"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"truncated"}); });
  BOOST_CHECK_EXCEPTION(load_fashion_mnist(dir + "/absent"), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"absent", "dataset-fashion-mnist"});
                        });
  BOOST_TEST(!fashion_mnist_available(dir));
}

boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(fashion_mnist_available());
  r.message() << "Fashion-MNIST not found in " << default_fashion_mnist_dir()
              << " (apt-get install dataset-fashion-mnist)";
  return r;
}

BOOST_AUTO_TEST_CASE(debian_package_files_when_installed,
                     *boost::unit_test::precondition(fashion_mnist_installed)) {
  FashionMnistData d = load_fashion_mnist();
  BOOST_TEST(d.train.size() == 60000);
  BOOST_TEST(d.test.size() == 10000);
  BOOST_TEST(d.test.images.shape() == (tensor::Shape{10000, 1, 28, 28}));
  BOOST_TEST(class_counts(d.test.labels, 10) == std::vector<int64_t>(10, 1000));
  BOOST_TEST(class_counts(d.train.labels, 10) == std::vector<int64_t>(10, 6000));
  BOOST_TEST(fashion_mnist_class_names().size() == 10u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(toy2d_shapes_scale_and_determinism) {
  for (Toy2d k : {Toy2d::ring8, Toy2d::checkerboard, Toy2d::two_moons, Toy2d::swiss_roll}) {
    tensor::Generator g1(5), g2(5);
    Tensor a = sample_toy2d(k, 4000, g1), b = sample_toy2d(k, 4000, g2);
    BOOST_TEST(a.shape() == (tensor::Shape{4000, 2}));
    BOOST_TEST(a.dtype() == DType::f32);
    BOOST_TEST(max_abs(a, b) == 0.0);
    BOOST_TEST(int(parse_toy2d(toy2d_name(k))) == int(k));
    double m = 0;
    for (float v : a.to_vector<float>()) m = std::max(m, double(std::abs(v)));
    BOOST_TEST_INFO(toy2d_name(k));
    BOOST_TEST(m < 2.0);  // roughly unit scale
    BOOST_TEST(m > 0.5);
  }
  BOOST_CHECK_EXCEPTION(parse_toy2d("spiral"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"spiral", "checkerboard"});
  });
}

BOOST_AUTO_TEST_CASE(toy2d_geometry) {
  tensor::Generator g(1);
  // Checkerboard: only cells with ⌊2x⌋ + ⌊2y⌋ even, 8 of them, equally filled.
  std::vector<double> cb = sample_checkerboard(8000, g, 0.0, DType::f64).to_vector<double>();
  std::map<std::pair<int, int>, int> cells;
  for (size_t i = 0; i < cb.size(); i += 2) {
    const int cx = int(std::floor(2 * cb[i])), cy = int(std::floor(2 * cb[i + 1]));
    BOOST_REQUIRE(((cx + cy) % 2 + 2) % 2 == 0);
    BOOST_REQUIRE(std::abs(cb[i]) <= 1.0);
    ++cells[{cx, cy}];
  }
  BOOST_TEST(cells.size() == 8u);
  for (auto& [cell, n] : cells) BOOST_TEST(std::abs(n - 1000) < 150);  // sd ≈ 30
  // Two moons: centred by construction (E cos t = 0, E sin t = 2/π on each moon).
  std::vector<double> mo = sample_two_moons(20000, g, 0.05, DType::f64).to_vector<double>();
  double mx = 0, my = 0;
  for (size_t i = 0; i < mo.size(); i += 2) mx += mo[i], my += mo[i + 1];
  BOOST_TEST(std::abs(mx / 20000) < 0.03);
  BOOST_TEST(std::abs(my / 20000) < 0.03);
  // Swiss roll without noise: radius t/(4.5π) ∈ [1/9, 1].
  std::vector<double> sr = sample_swiss_roll(2000, g, 0.0, DType::f64).to_vector<double>();
  for (size_t i = 0; i < sr.size(); i += 2) {
    const double r = std::hypot(sr[i], sr[i + 1]);
    BOOST_REQUIRE(r >= 1.0 / 9 - 1e-12);
    BOOST_REQUIRE(r <= 1.0 + 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(gaussian_mixture_density_score_and_moments) {
  GaussianMixture ring = ring8_mixture();
  tensor::Generator g(3);
  Tensor comp;
  Tensor x = ring.sample(20000, g, DType::f64, &comp);
  // Per-coordinate variance r²/2 + s² = 1.01, mean 0.
  std::vector<double> v = x.to_vector<double>();
  double m0 = 0, v0 = 0, v1 = 0;
  for (size_t i = 0; i < v.size(); i += 2) m0 += v[i], v0 += v[i] * v[i], v1 += v[i + 1] * v[i + 1];
  BOOST_TEST(std::abs(m0 / 20000) < 0.03);
  BOOST_TEST(std::abs(v0 / 20000 - 1.01) < 0.04);
  BOOST_TEST(std::abs(v1 / 20000 - 1.01) < 0.04);
  BOOST_TEST(class_counts(comp, 8).size() == 8u);

  // Score = ∇ log p by central differences (f64), on points between and near the modes.
  GaussianMixture sm = ring.smoothed(0.3);
  BOOST_TEST(std::abs(sm.stds.to_vector<double>()[0] - std::sqrt(0.01 + 0.09)) < 1e-15);
  Tensor pts = tensor::from_vector<double>({0.1, 0.2, 1.3, 0.1, -0.7, 0.9, 0.0, -1.5}, {4, 2});
  std::vector<double> s = sm.score(pts).to_vector<double>();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j) {
      Tensor hi = pts.clone(), lo = pts.clone();
      hi.data<double>()[i * 2 + j] += 1e-6;
      lo.data<double>()[i * 2 + j] -= 1e-6;
      const double fd = (sm.log_prob(hi).to_vector<double>()[size_t(i)] -
                         sm.log_prob(lo).to_vector<double>()[size_t(i)]) /
                        2e-6;
      BOOST_TEST(std::abs(fd - s[size_t(i * 2 + j)]) < 1e-6);
    }
  // One component: log N(x; μ, σ²I) in closed form.
  GaussianMixture one =
      make_isotropic_mixture(tensor::from_vector<double>({1, -2, 0.5}, {1, 3}), 2.0);
  Tensor p = tensor::from_vector<double>({0, 0, 0}, {1, 3});
  const double expect = -0.5 * (1 + 4 + 0.25) / 4 - 1.5 * std::log(2 * M_PI * 4);
  BOOST_TEST(std::abs(one.log_prob(p).item() - expect) < 1e-12);

  GaussianMixture bad = ring;
  bad.weights = tensor::full({8}, 0.2, DType::f64);
  BOOST_CHECK_EXCEPTION(bad.validate(), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"sum to 1.6"}); });
}

BOOST_AUTO_TEST_CASE(ring_and_raw_mog) {
  Tensor u = random_plane(64, 9);
  std::vector<double> uv = u.to_vector<double>();
  double d11 = 0, d22 = 0, d12 = 0;
  for (int64_t i = 0; i < 64; ++i) {
    d11 += uv[size_t(2 * i)] * uv[size_t(2 * i)];
    d22 += uv[size_t(2 * i + 1)] * uv[size_t(2 * i + 1)];
    d12 += uv[size_t(2 * i)] * uv[size_t(2 * i + 1)];
  }
  BOOST_TEST(std::abs(d11 - 1) < 1e-14);
  BOOST_TEST(std::abs(d22 - 1) < 1e-14);
  BOOST_TEST(std::abs(d12) < 1e-14);

  RingMogParams pp;
  pp.dim = 64;
  pp.plane_seed = 9;
  GaussianMixture p = ring_mog(pp);
  RingMogParams qp = pp;
  qp.phase = M_PI / 6;
  GaussianMixture q = ring_mog(qp);
  BOOST_TEST(p.num_components() == 6);
  BOOST_TEST(p.dim() == 64);
  std::vector<double> mp = p.means.to_vector<double>(), mq = q.means.to_vector<double>();
  for (int64_t k = 0; k < 6; ++k) {
    double norm = 0, in_plane = 0, dist = 0;
    double a = 0, b = 0;
    for (int64_t i = 0; i < 64; ++i) {
      const double c = mp[size_t(k * 64 + i)];
      norm += c * c;
      a += c * uv[size_t(2 * i)];
      b += c * uv[size_t(2 * i + 1)];
      const double e = c - mq[size_t(k * 64 + i)];
      dist += e * e;
    }
    in_plane = a * a + b * b;
    BOOST_TEST(std::abs(std::sqrt(norm) - 3.0) < 1e-12);
    BOOST_TEST(std::abs(in_plane - norm) < 1e-12);  // lies in span(u₁, u₂)
    // Rotation by π/6 on a radius-3 circle moves a centre by 2·3·sin(π/12).
    BOOST_TEST(std::abs(std::sqrt(dist) - 6 * std::sin(M_PI / 12)) < 1e-12);
  }
  RingMogParams flat;
  flat.random_plane = false;
  flat.dim = 3;
  std::vector<double> mf = ring_mog(flat).means.to_vector<double>();
  BOOST_TEST(std::abs(mf[0] - 3) < 1e-15);
  BOOST_TEST(mf[2] == 0.0);
  BOOST_TEST(std::abs(mf[3] - 1.5) < 1e-12);  // k = 1: 3(cos 60°, sin 60°, 0)

  RawMogParams rp;
  rp.dim = 1024;
  rp.seed = 4;
  std::vector<double> mr = raw_mog(rp).means.to_vector<double>();
  for (int64_t k = 0; k < 6; ++k) {
    double norm = 0;
    for (int64_t i = 0; i < 1024; ++i) norm += mr[size_t(k * 1024 + i)] * mr[size_t(k * 1024 + i)];
    BOOST_TEST(std::abs(std::sqrt(norm) - 3.0) < 0.3);  // ‖c‖ ≈ R, sd ≈ R/√(2D)
  }
  BOOST_CHECK_EXCEPTION(ring_mog(RingMogParams{1}), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"dim must be >= 2"});
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batches)

BOOST_AUTO_TEST_CASE(epochs_are_permutations_and_resume_is_exact) {
  BatchIterator it(10, 3, 42, true, false);
  BOOST_TEST(it.batches_per_epoch() == 4);
  std::vector<int64_t> seen;
  for (int b = 0; b < 4; ++b) {
    auto v = it.next().to_vector<int64_t>();
    BOOST_TEST(v.size() == (b < 3 ? 3u : 1u));
    seen.insert(seen.end(), v.begin(), v.end());
  }
  BOOST_TEST(std::set<int64_t>(seen.begin(), seen.end()).size() == 10u);
  BOOST_TEST(seen == it.epoch_order(0).to_vector<int64_t>());
  BOOST_TEST(it.epoch_order(0).to_vector<int64_t>() != it.epoch_order(1).to_vector<int64_t>());

  // Drop-last iterator: run 7 batches, save, run 5 more; a fresh one restored must match.
  BatchIterator a(10, 3, 7);
  for (int i = 0; i < 7; ++i) a.next();
  BatchIteratorState st = a.state();
  BOOST_TEST(st.epoch == 2);  // 3 full batches per epoch
  BOOST_TEST(st.position == 3);
  std::vector<std::vector<int64_t>> rest;
  for (int i = 0; i < 5; ++i) rest.push_back(a.next().to_vector<int64_t>());
  BatchIterator b(10, 3, 7);
  b.set_state(st);
  for (int i = 0; i < 5; ++i) BOOST_TEST(b.next().to_vector<int64_t>() == rest[size_t(i)]);

  BatchIterator plain(5, 2, 0, false, true);
  BOOST_TEST(plain.next().to_vector<int64_t>() == (std::vector<int64_t>{0, 1}));
  BOOST_TEST(plain.next().to_vector<int64_t>() == (std::vector<int64_t>{2, 3}));
  BOOST_TEST(plain.next().to_vector<int64_t>() == (std::vector<int64_t>{0, 1}));  // 4 dropped

  Tensor data = tensor::arange(0, 20, 1, DType::f32).reshape({10, 2});
  Tensor rows = take_rows(data, tensor::from_vector<int64_t>({3, 0}, {2}));
  BOOST_TEST(rows.to_vector<float>() == (std::vector<float>{6, 7, 0, 1}));
}

BOOST_AUTO_TEST_CASE(bad_iterator_settings_are_named) {
  BOOST_CHECK_EXCEPTION(BatchIterator(4, 5, 0), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"batch size 5"}); });
  BatchIterator it(10, 3, 0);
  BOOST_CHECK_EXCEPTION(it.set_state({0, 4}), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"position 4", "batch boundary"});
  });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(pca_of_low_rank_images_round_trips) {
  // 200 images [1, 4, 4] spanned by 3 fixed directions with variances 9, 4, 1, plus a mean.
  tensor::Generator g(3);
  Tensor basis = tensor::randn({3, 16}, DType::f64, &g);
  Tensor coef = tensor::binary(tensor::BinaryOp::mul, tensor::randn({200, 3}, DType::f64, &g),
                               tensor::from_vector(std::vector<double>{3, 2, 1}, {1, 3}, DType::f64));
  Tensor mean = tensor::affine(tensor::rand({1, 16}, DType::f64, &g), 0.2, -0.1);
  Tensor x = tensor::binary(tensor::BinaryOp::add, tensor::matmul(coef, basis), mean);
  x = tensor::affine(x, 0.05, 0.0);  // inside [-1, 1], so decode's clamp changes nothing
  Tensor images = x.reshape({200, 1, 4, 4}).to(DType::f32);

  Pca p = fit_pca(images, 3);
  BOOST_TEST(p.explained > 0.999999);  // rank 3: three components hold all the variance
  auto var = p.variances.to_vector<double>();
  BOOST_TEST((var[0] >= var[1] && var[1] >= var[2] && var[2] > 0));
  // Orthonormal components.
  Tensor gram = tensor::matmul(p.components, p.components.transpose(0, 1));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j)
      BOOST_TEST(std::abs(gram.select(0, i).select(0, j).item() - (i == j ? 1.0 : 0.0)) < 1e-10);
  // In-span images come back to f32 rounding; coordinates have unit mean variance.
  Tensor c = p.encode(images);
  BOOST_TEST(c.shape() == (tensor::Shape{200, 3}));
  Tensor back = p.decode(c);
  BOOST_TEST(back.shape() == images.shape());
  Tensor diff = tensor::binary(tensor::BinaryOp::sub, back, images).reshape({-1});
  const double err = tensor::amax(tensor::unary(tensor::UnaryOp::abs, diff), 0).item();
  BOOST_TEST(err < 1e-5);
  const double mean_var = tensor::mean(tensor::var(c.to(DType::f64), {0}), {}).item();
  BOOST_TEST(std::abs(mean_var - 1.0) < 1e-4);

  BOOST_CHECK_EXCEPTION(fit_pca(images, 17), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"fit_pca", "17 components"});
  });
  BOOST_CHECK_EXCEPTION(p.decode(tensor::zeros({2, 4})), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"Pca::decode", "[N, 3]"}); });
}
