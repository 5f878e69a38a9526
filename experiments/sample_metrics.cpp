#include "experiments/sample_metrics.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "experiments/image_grid.h"
#include "experiments/metrics/classification.h"
#include "experiments/metrics/kid.h"
#include "experiments/metrics/mixture_metrics.h"
#include "experiments/metrics/precision_recall.h"
#include "experiments/metrics/vector_metrics.h"
#include "experiments/report.h"
#include "matching/divergence.h"
#include "tensor/factory.h"

namespace difflab::experiments {

using ag::Var;

namespace {
double mmd_v(const Tensor& a, const Tensor& b, double h) {
  ag::NoGradGuard ng;
  double m2 = matching::mmd2(Var(a.to(DType::f64)), Var(b.to(DType::f64)), h,
                             matching::Estimator::v_statistic)
                  .item();
  return std::sqrt(std::max(m2, 0.0));
}
// Mode figures where the data's shape is known: a Gaussian mixture, or the checkerboard.
void add_shape_metrics(Metrics& out, const Dataset& data, const Tensor& s, const Tensor& t,
                       bool reference_level) {
  if (data.mixture) {
    MixtureMetrics m = mixture_metrics(*data.mixture, s);
    out.emplace_back("hq_share", m.hq_share);
    out.emplace_back("modes_covered", double(m.modes_covered));
    out.emplace_back("mode_weight_tv", m.mode_weight_tv);
    out.emplace_back("log_density", m.log_density);
    if (reference_level) {
      MixtureMetrics d = mixture_metrics(*data.mixture, t);
      out.emplace_back("hq_share_data", d.hq_share);
      out.emplace_back("log_density_data", d.log_density);
    }
  } else if (data.name == "checkerboard") {
    CheckerboardMetrics c = checkerboard_metrics(s);
    out.emplace_back("in_squares", c.in_squares);
    out.emplace_back("square_tv", c.square_tv);
  }
}

// Precision and recall against the held-out set (k = 3), and their data-vs-data level.
void add_precision_recall(Metrics& out, const Tensor& s, const Tensor& t, const Tensor& ref) {
  PrecisionRecall pr = precision_recall(s, t);
  out.emplace_back("precision", pr.precision);
  out.emplace_back("recall", pr.recall);
  if (!ref.defined()) return;
  PrecisionRecall d = precision_recall(ref, t);
  out.emplace_back("precision_data_vs_data", d.precision);
  out.emplace_back("recall_data_vs_data", d.recall);
}

// Gaussian-kernel MMD² (U-statistic) with k = exp(−‖x − y‖²/h') at h' = h, h/4, h/16, h the median
// squared distance over the pooled samples and held-out points ("mmd2_h1", "mmd2_h4",
// "mmd2_h16"): the narrow kernels see what the median bandwidth averages away (8 blobs vs a ring).
void add_multiscale_mmd(Metrics& out, const Tensor& s, const Tensor& t, const Tensor& ref) {
  const int64_t m = std::min<int64_t>(500, std::min(s.size(0), t.size(0)));
  const Tensor pooled = tensor::cat({s.slice(0, 0, m), t.slice(0, 0, m)}, 0);
  // median_bandwidth's σ solves 2σ² = median ‖a − b‖², the kernel exp(−d²/(2σ²)) = exp(−d²/h).
  const double sigma = matching::median_bandwidth(pooled, pooled, 2 * m);
  for (int div : {1, 4, 16}) {
    const double sd = sigma / std::sqrt(double(div));
    const std::string key = "mmd2_h" + std::to_string(div);
    out.emplace_back(key, mmd2_u_blocked(s, t, sd));
    if (ref.defined()) out.emplace_back(key + "_data_vs_data", mmd2_u_blocked(ref, t, sd));
  }
}

}  // namespace

Metrics vector_sample_metrics(const Dataset& data, const Tensor& samples, bool reference_level) {
  const int64_t n = std::min(samples.size(0), data.test.size(0));
  Tensor s = samples.slice(0, 0, n), t = data.test.slice(0, 0, n);
  // One bandwidth for every comparison: the median heuristic on data vs data.
  Tensor ref = data.reference.slice(0, 0, n);
  const double h = matching::median_bandwidth(t, ref);
  Metrics out;
  out.emplace_back("mmd", mmd_v(s, t, h));
  if (reference_level) out.emplace_back("mmd_data_vs_data", mmd_v(ref, t, h));
  VectorMetricOptions vo;
  vo.bandwidth = h;
  VectorMetrics vm = vector_metrics(s, t, vo);
  out.emplace_back("energy", vm.energy);
  out.emplace_back("sliced_w1", vm.sliced_w1);
  if (reference_level) {
    VectorMetrics rm = vector_metrics(ref, t, vo);
    out.emplace_back("sliced_w1_data_vs_data", rm.sliced_w1);
  }
  add_shape_metrics(out, data, s, t, reference_level);
  add_precision_recall(out, s, t, reference_level ? ref : Tensor());
  add_multiscale_mmd(out, s, t, reference_level ? ref : Tensor());
  return out;
}

ImageJudge make_image_judge(const Dataset& data, const std::string& data_name,
                            int64_t reference_n) {
  ImageJudge j;
  // Vectors that encode images are judged as the images they decode to.
  const Tensor& train_x = data.decode ? data.train_images : data.train;
  const Tensor& test_x = data.decode ? data.test_images : data.test;
  ImageSet train{train_x, data.train_labels}, test{test_x, data.test_labels};
  j.classifier = load_or_train_classifier(data.decode ? data.image_set : data_name, train, test,
                                          data.num_classes);
  j.test_features = classify(*j.classifier.net, test_x).features;
  j.test_stats = feature_stats(j.test_features);
  const int64_t n = std::min(reference_n, train_x.size(0));
  // Evenly spaced train images: the split keeps file order, which is grouped by class.
  const int64_t stride = std::max<int64_t>(1, train_x.size(0) / n);
  Tensor idx = tensor::arange(0, double(n * stride), double(stride), DType::i64);
  Tensor ref = classify(*j.classifier.net, tensor::index_select(train_x, 0, idx)).features;
  j.data_frechet = frechet_distance(feature_stats(ref), j.test_stats);
  j.data_kid = kernel_inception_distance(ref, j.test_features).mean;
  const PrecisionRecall pr = precision_recall(ref, j.test_features);
  j.data_precision = pr.precision, j.data_recall = pr.recall;
  if (data.test_labels.defined())
    j.data_class_share = class_histogram(data.test_labels, data.num_classes).fractions;
  return j;
}

Metrics image_sample_metrics(const ImageJudge& judge, const Tensor& samples,
                             const Tensor& requested_labels) {
  ClassifierOutputs co = classify(*judge.classifier.net, tensor::clamp(samples, -1.0, 1.0));
  Metrics out;
  out.emplace_back("frechet", frechet_distance(feature_stats(co.features), judge.test_stats));
  KidResult kid = kernel_inception_distance(co.features, judge.test_features);
  out.emplace_back("kid", kid.mean);
  out.emplace_back("frechet_data_vs_data", judge.data_frechet);
  out.emplace_back("kid_data_vs_data", judge.data_kid);
  Tensor probs = tensor::softmax(co.logits, 1);
  out.emplace_back("confidence", tensor::mean(tensor::amax(probs, 1), {}).item());
  Tensor pred = predict_classes(co.logits);
  if (requested_labels.defined())
    out.emplace_back("class_accuracy", accuracy(pred, requested_labels));
  ClassHistogram hist = class_histogram(pred, judge.classifier.net->num_classes());
  out.emplace_back("classes_covered", double(hist.classes_covered));
  out.emplace_back("class_kl_from_uniform", hist.kl_from_uniform);
  // The rarest and the most over-drawn class, as its share over its share of the held-out data.
  if (judge.data_class_share.size() == hist.fractions.size()) {
    const auto [lo, hi] = class_share_ratio_range(hist.fractions, judge.data_class_share);
    out.emplace_back("class_share_min_ratio", lo);
    out.emplace_back("class_share_max_ratio", hi);
  }
  const PrecisionRecall pr = precision_recall(co.features, judge.test_features);
  out.emplace_back("precision", pr.precision);
  out.emplace_back("recall", pr.recall);
  out.emplace_back("precision_data_vs_data", judge.data_precision);
  out.emplace_back("recall_data_vs_data", judge.data_recall);
  return out;
}

std::string mode_verdict(const std::map<std::string, double>& last, const Dataset& data,
                         const std::string& prefix, const std::string& suffix) {
  auto get = [&](const std::string& k) {
    auto it = last.find(prefix + k + suffix);
    if (it == last.end()) it = last.find(k);  // data levels: logged once, unprefixed
    return it == last.end() ? NAN : it->second;
  };
  auto beside = [&](const std::string& k) {
    const double v = get(k);
    return std::isfinite(v) ? " (held-out data " + format_number(v) + ")" : std::string();
  };
  if (data.mixture && std::isfinite(get("hq_share"))) {
    const double hq = get("hq_share"), modes = get("modes_covered");
    const int64_t k = data.mixture->num_components();
    const bool resolved = hq >= 0.9 && modes == double(k);
    return "High-quality share " + format_number(hq) + beside("hq_share_data") + ", " +
           format_number(modes) + " of " + std::to_string(k) + " modes covered, mode-weight TV " +
           format_number(get("mode_weight_tv")) + ", mean log-density " +
           format_number(get("log_density")) + beside("log_density_data") + ". " +
           (resolved ? "The samples resolve every mode."
                     : "The samples have NOT resolved the modes (under 90% within the 99% radius "
                       "of a mode, or a mode missing), whatever MMD says.");
  }
  if (std::isfinite(get("in_squares"))) {
    const double in = get("in_squares");
    return format_number(100 * in) + "% of the samples lie in the 8 squares; cell TV " +
           format_number(get("square_tv")) + ". " +
           (in >= 0.9 ? "The squares are resolved." : "The squares are NOT resolved (under 90% inside).");
  }
  return "";
}

bool judged_as_images(const Dataset& data) { return data.images || bool(data.decode); }

Metrics sample_metrics(const Dataset& data, const ImageJudge* judge, const Tensor& samples,
                       const Tensor& requested_labels, bool reference_level) {
  DIFFLAB_CHECK(!judged_as_images(data) || judge, "sample_metrics: image samples need a judge");
  if (data.images) return image_sample_metrics(*judge, samples, requested_labels);
  Metrics m = vector_sample_metrics(data, samples, reference_level);
  if (data.decode)
    for (auto& kv : image_sample_metrics(*judge, data.decode(samples), requested_labels))
      m.push_back(kv);
  return m;
}

namespace {

// Half-width of the plotted square: 2.5 (the 2-D toys), or wider to hold the reference draw.
double plot_extent(const Dataset& data) {
  if (!data.reference.defined()) return 2.5;
  const Tensor r = data.reference.to(DType::f64);
  const double hi = tensor::amax(tensor::unary(tensor::UnaryOp::abs, r.reshape({r.numel()})), 0).item();
  return std::max(2.5, 1.1 * hi);
}

}  // namespace

std::string samples_png(const Dataset& data, const Tensor& samples, int64_t grid, int64_t nrow) {
  if (!judged_as_images(data))
    return samples.size(1) == 1 ? histogram_png(samples, plot_extent(data))
                                : scatter_png(samples, plot_extent(data));
  Tensor head = samples.slice(0, 0, std::min(grid, samples.size(0)));
  return png_grid(data.images ? head : data.decode(head), nrow);
}

std::string scatter_png(const Tensor& points, double extent, int64_t size) {
  DIFFLAB_CHECK(points.dim() == 2 && points.size(1) >= 2, "scatter_png: expected points [N, D>=2], got ",
                points.shape());
  std::vector<double> v = points.to(DType::f64).to_vector<double>();
  const int64_t d = points.size(1);
  std::vector<double> img(size_t(size * size), 0.0);
  for (int64_t i = 0; i < points.size(0); ++i) {
    double x = v[size_t(i * d)], y = v[size_t(i * d + 1)];
    int64_t px = int64_t((x + extent) / (2 * extent) * double(size));
    int64_t py = int64_t((extent - y) / (2 * extent) * double(size));
    for (int64_t dy = 0; dy < 2; ++dy)  // 2x2 dots stay visible in a small figure
      for (int64_t dx = 0; dx < 2; ++dx)
        if (px + dx >= 0 && px + dx < size && py + dy >= 0 && py + dy < size)
          img[size_t((py + dy) * size + px + dx)] += 1.0;
  }
  double mx = *std::max_element(img.begin(), img.end());
  Tensor t = Tensor::empty({1, 1, size, size}, DType::f32);
  float* p = t.data<float>();
  // White background, darker where more points land (log scale so sparse regions show).
  for (size_t i = 0; i < img.size(); ++i)
    p[i] = float(1.0 - 2.0 * (mx > 0 ? std::log1p(img[i]) / std::log1p(mx) : 0.0));
  return png_grid(t, 1, 0);
}

std::string histogram_png(const Tensor& values, double extent, int64_t width, int64_t height) {
  DIFFLAB_CHECK(values.dim() == 2 && values.size(1) == 1, "histogram_png: expected values [N, 1], got ",
                values.shape());
  const std::vector<double> v = values.to(DType::f64).to_vector<double>();
  const int64_t bins = width / 2;
  std::vector<double> count(size_t(bins), 0.0);
  for (double x : v) {
    const int64_t b = int64_t((x + extent) / (2 * extent) * double(bins));
    if (b >= 0 && b < bins) count[size_t(b)] += 1;
  }
  const double mx = std::max(1.0, *std::max_element(count.begin(), count.end()));
  Tensor t = tensor::full({1, 1, height, width}, 1.0, DType::f32);  // white
  float* p = t.data<float>();
  for (int64_t b = 0; b < bins; ++b) {
    const int64_t h = int64_t(std::lround(count[size_t(b)] / mx * double(height - 1)));
    for (int64_t y = height - h; y < height; ++y)
      for (int64_t dx = 0; dx < 2; ++dx) p[y * width + 2 * b + dx] = -1.0f;  // black bars
  }
  for (int64_t y = 0; y < height; y += 4) p[y * width + width / 2] = 0.0f;  // x = 0, dotted
  return png_grid(t, 1, 0);
}

}  // namespace difflab::experiments
