#include "experiments/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "experiments/data/color_compositions.h"
#include "experiments/data/color_mnist.h"
#include "experiments/data/fashion_mnist.h"
#include "experiments/data/joint_gmm.h"
#include "experiments/data/mnist.h"
#include "experiments/data/mnist_rotation.h"
#include "experiments/data/pca.h"
#include "experiments/data/ring_mog.h"
#include "experiments/data/toy2d.h"
#include "experiments/lenet.h"
#include "experiments/report.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

void declare_data_keys(Config& c, const std::string& name,
                       const std::vector<std::string>& choices) {
  c.declare_string("data.name", name, choices,
                   "data set (mnist_pca: MNIST as data.pca_dim principal-component coordinates)")
      .declare_int("data.pca_dim", 50, 1, 784, "principal components kept (mnist_pca)")
      .declare_int("data.n_train", 20000, 16, 10000000, "training points (vector data sets)")
      .declare_int("data.n_test", 5000, 16, 10000000, "held-out points (vector data sets)")
      .declare_int("data.dim", 8, 2, 4096, "dimension of ring_mog")
      .declare_int("data.limit_train", 0, 0, 100000000,
                   "use only the first N training images (0 = all; image data sets)")
      .declare_int(
          "data.copies", 4, 1, 1000,
          "mnist_rot, mnist_rot_yx: random rotations per training digit (per logical angle)")
      .declare_double("data.ambiguity", 0.99, 0.5, 0.999999,
                      "mnist_rot_yx: LeNet confidence in a digit turned by 90/180/270 degrees that "
                      "makes that turn one of its logical angles (spec: 0.9999)");
}

DataSettings data_settings(const Config& cfg) {
  DataSettings s;
  s.name = cfg.get_string("data.name");
  s.pca_dim = cfg.get_int("data.pca_dim");
  s.n_train = cfg.get_int("data.n_train");
  s.n_test = cfg.get_int("data.n_test");
  s.dim = cfg.get_int("data.dim");
  s.limit_train = cfg.get_int("data.limit_train");
  s.seed = uint64_t(cfg.get_int("seed"));
  s.copies = cfg.get_int("data.copies");
  s.ambiguity = cfg.get_double("data.ambiguity");
  return s;
}

namespace {

ImageSet first_rows(const ImageSet& set, int64_t limit) {
  if (limit <= 0 || limit >= set.size()) return set;
  return subset(set, tensor::arange(0, double(limit), 1, DType::i64));
}

// MNIST as principal-component coordinates fitted on the train split.
Dataset load_pca(const DataSettings& s) {
  Dataset d;
  auto m = load_mnist();
  ImageSet train = first_rows(m.train, s.limit_train), test = m.test;
  auto pca = std::make_shared<Pca>(fit_pca(train.images, s.pca_dim));
  d.train = pca->encode(train.images), d.test = pca->encode(test.images);
  d.train_labels = train.labels, d.test_labels = test.labels;
  d.num_classes = 10;
  // The data-vs-data level of the vector metrics: evenly spaced training rows (independent of
  // the test set; the file order is grouped by class).
  const int64_t nref = std::min(d.train.size(0), d.test.size(0));
  const int64_t stride = d.train.size(0) / nref;
  d.reference = tensor::index_select(
      d.train, 0, tensor::arange(0, double(nref * stride), double(stride), DType::i64));
  d.decode = [pca](const Tensor& coords) { return pca->decode(coords); };
  d.train_images = train.images, d.test_images = test.images, d.image_set = "mnist";
  char kept[32];
  std::snprintf(kept, sizeof kept, "%.1f%%", 100.0 * pca->explained);
  d.description = "mnist_pca: " + std::to_string(train.size()) + " train / " +
                  std::to_string(test.size()) + " held-out images as " +
                  std::to_string(d.train.size(1)) + " principal-component coordinates (" + kept +
                  " of the pixel variance, fitted on the train split)";
  return d;
}

Dataset load_images(const DataSettings& s) {
  Dataset d;
  d.images = true;
  d.num_classes = 10;
  ImageSet train, test;
  if (s.name == "fashion_mnist") {
    auto f = load_fashion_mnist();
    train = f.train, test = f.test;
  } else {
    auto m = load_mnist();
    train = m.train, test = m.test;
    if (s.name == "color_mnist") {
      ColorMnistOptions opt;
      opt.seed = s.seed * 5 + 1;
      auto ctr = colorize(m.train, opt);
      opt.seed = s.seed * 5 + 2;  // held-out colours drawn independently
      auto cte = colorize(m.test, opt);
      train = ctr.set, test = cte.set;
      d.num_classes = ctr.num_classes();
    } else if (s.name == "color_mnist_a") {  // seen compositions only: 40 classes
      train = seen_set(m.train, s.seed, PaintSplit::train).set;
      test = seen_set(m.test, s.seed, PaintSplit::test).set;
      d.num_classes = kSeenCompositions;
    }
  }
  train = first_rows(train, s.limit_train);
  d.train = train.images, d.train_labels = train.labels;
  d.test = test.images, d.test_labels = test.labels;
  d.description = s.name + ": " + std::to_string(train.size()) + " train / " +
                  std::to_string(test.size()) + " held-out images";
  if (s.name == "color_mnist_a")
    d.description +=
        " of the 40 seen (digit, colour) compositions; the 10 compositions digit d "
        "in colour d mod 5 are held out of both splits";
  return d;
}

// Rotated MNIST (experiments/data/mnist_rotation.h): digits at uniform angles (mnist_rot), or
// the angle with the flattened digit as its condition (mnist_rot_yx; logical angles granted by
// the MNIST LeNet judge). Held-out rows rotate the held-out digits once each.
Dataset load_rotation(const DataSettings& s) {
  Dataset d;
  const MnistData m = load_mnist();
  const ImageSet train = first_rows(m.train, s.limit_train);
  tensor::Generator g_train(s.seed * 3 + 1), g_test(s.seed * 3 + 2), g_ref(s.seed * 3 + 3);
  if (s.name == "mnist_rot") {
    const ImageSet tr = rotated_copies(train, s.copies, g_train),
                   te = rotated_copies(m.test, 1, g_test);
    d.images = true, d.num_classes = 10;
    d.train = tr.images, d.train_labels = tr.labels, d.test = te.images, d.test_labels = te.labels;
    d.description = "mnist_rot: " + std::to_string(train.size()) + " train digits x " +
                    std::to_string(s.copies) + " uniform rotations / " +
                    std::to_string(m.test.size()) + " held-out digits rotated once";
    return d;
  }
  const Classifier judge = load_or_train_classifier("mnist", m.train, m.test, 10);
  const DigitProbabilities probs = [&judge](const Tensor& images) {
    return tensor::softmax(classify(*judge.net, images).logits, 1);
  };
  auto flat = [](const Tensor& images) {
    return images.reshape({images.size(0), images.numel() / images.size(0)});
  };
  const auto test_angles = logical_angles(m.test, probs, s.ambiguity);
  const RotationPairs tr = rotation_pairs(train, logical_angles(train, probs, s.ambiguity),
                                          s.copies, g_train),
                      te = rotation_pairs(m.test, test_angles, 1, g_test),
                      ref = rotation_pairs(m.test, test_angles, 1, g_ref);
  d.train = tr.angles, d.train_cond = flat(tr.images), d.train_labels = tr.labels;
  d.test = te.angles, d.test_cond = flat(te.images), d.test_labels = te.labels;
  d.reference = ref.angles, d.reference_cond = flat(ref.images);
  d.reference_angle_sets = ref.all_angles;
  const int64_t ambiguous = te.images.size(0) - m.test.size();
  d.description = "mnist_rot_yx: angle (cos, sin) given the flattened rotated digit; " +
                  std::to_string(tr.images.size(0)) + " train pairs (" + std::to_string(s.copies) +
                  " rotations per digit and logical angle) / " + std::to_string(te.images.size(0)) +
                  " held-out pairs (" + std::to_string(ambiguous) +
                  " from extra logical angles at LeNet confidence > " + format_number(s.ambiguity) +
                  ")";
  return d;
}

// MLGD-F's joint P(X, Y) (experiments/data/joint_gmm.h): the X marginal, or Y with X as its
// condition. The task's instance is fixed (seed 1), the draws follow the run's seed.
void load_cdm(Dataset& d, const DataSettings& s, const std::string& task, tensor::Generator* g[3]) {
  const CdmTask t = make_cdm_task(task);
  const bool joint = s.name.ends_with("_yx");
  Tensor* out[3] = {&d.train, &d.test, &d.reference};
  Tensor* cond[3] = {&d.train_cond, &d.test_cond, &d.reference_cond};
  const int64_t n[3] = {s.n_train, s.n_test, s.n_test};
  for (int i = 0; i < 3; ++i) {
    const Tensor xy = t.joint.sample(n[i], *g[i]);
    const Tensor x = xy.slice(1, 0, t.dim_x).contiguous();
    *out[i] = joint ? xy.slice(1, t.dim_x, t.joint.dim()).contiguous() : x;
    if (joint) *cond[i] = x;
  }
  // 2d's X marginal is an isotropic 1-D mixture (every X variance is 0.5) with 7 distinct
  // positions (components sharing an X mean merged, weights summed): the mode metrics apply.
  if (task == "2d" && !joint) {
    std::map<double, double> at;
    for (size_t k = 0; k < t.joint.means.size(); ++k) at[t.joint.means[k][0]] += t.joint.weights[k];
    std::vector<double> xs, ws;
    for (auto [x, w] : at) xs.push_back(x), ws.push_back(w);
    const int64_t K = int64_t(xs.size());
    GaussianMixture m;
    m.weights = tensor::from_vector(ws, {K}, DType::f64);
    m.means = tensor::from_vector(xs, {K, 1}, DType::f64);
    m.stds = tensor::full({K}, std::sqrt(t.joint.covs[0][0][0]), DType::f64);
    m.validate();
    d.mixture = std::make_shared<GaussianMixture>(m);
  }
}

// Vector data: train, held-out and reference sets are independent draws.
Dataset load_vectors(const DataSettings& s) {
  Dataset d;
  tensor::Generator g_train(s.seed * 3 + 1), g_test(s.seed * 3 + 2), g_ref(s.seed * 3 + 3);
  if (const std::string task = cdm_task_of(s.name); !task.empty()) {
    tensor::Generator* g[3] = {&g_train, &g_test, &g_ref};
    load_cdm(d, s, task, g);
  } else if (s.name == "ring_mog") {
    RingMogParams rp;
    rp.dim = s.dim;
    GaussianMixture mix = ring_mog(rp);
    d.train = mix.sample(s.n_train, g_train), d.test = mix.sample(s.n_test, g_test);
    d.reference = mix.sample(s.n_test, g_ref);
    d.mixture = std::make_shared<GaussianMixture>(mix);
  } else {
    Toy2d kind = parse_toy2d(s.name);
    d.train = sample_toy2d(kind, s.n_train, g_train), d.test = sample_toy2d(kind, s.n_test, g_test);
    d.reference = sample_toy2d(kind, s.n_test, g_ref);
    if (kind == Toy2d::ring8) d.mixture = std::make_shared<GaussianMixture>(ring8_mixture());
  }
  d.description = s.name + ": " + std::to_string(s.n_train) + " train / " +
                  std::to_string(s.n_test) + " held-out points in " +
                  std::to_string(d.train.size(1)) + "-D";
  return d;
}

}  // namespace

std::string cdm_task_of(const std::string& data_name) {
  for (const char* t : {"2d", "5d", "10d"})
    for (const char* part : {"_x", "_yx"})
      if (data_name == std::string("cdm") + t + part) return t;
  return "";
}

Dataset load_dataset(const DataSettings& s) {
  Dataset d = s.name == "mnist_pca"                               ? load_pca(s)
              : s.name == "mnist_rot" || s.name == "mnist_rot_yx" ? load_rotation(s)
              : s.name == "mnist" || s.name == "color_mnist" || s.name == "color_mnist_a" ||
                      s.name == "fashion_mnist"
                  ? load_images(s)
                  : load_vectors(s);
  d.name = s.name;
  return d;
}

}  // namespace difflab::experiments
