#include "experiments/metrics/classification.h"

#include <algorithm>
#include <cmath>

#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

std::vector<int64_t> class_vector(const Tensor& t, int64_t num_classes, const char* what,
                                  const char* op) {
  DIFFLAB_CHECK(t.defined() && t.dtype() == DType::i64 && t.dim() == 1, op, ": ", what,
                " must be i64 [N], got ", t.defined() ? t.desc() : std::string("undefined"));
  std::vector<int64_t> v = t.to_vector<int64_t>();
  for (int64_t c : v)
    DIFFLAB_CHECK(c >= 0 && c < num_classes, op, ": ", what, " value ", c, " outside [0, ",
                  num_classes, ")");
  return v;
}

void check_same_length(const Tensor& p, const Tensor& l, const char* op) {
  DIFFLAB_CHECK(p.numel() == l.numel() && p.numel() >= 1, op,
                ": predictions and labels must be non-empty and of equal length, got ", p.shape(),
                " and ", l.shape());
}

}  // namespace

Tensor predict_classes(const Tensor& logits) {
  DIFFLAB_CHECK(logits.defined() && logits.dim() == 2,
                "predict_classes: logits must be [N, C], got ",
                logits.defined() ? logits.desc() : std::string("undefined"));
  return tensor::argmax(logits, 1);
}

double accuracy(const Tensor& predictions, const Tensor& labels) {
  check_same_length(predictions, labels, "accuracy");
  DIFFLAB_CHECK(predictions.dtype() == DType::i64 && labels.dtype() == DType::i64,
                "accuracy: predictions and labels must be i64, got ", predictions.desc(), " and ",
                labels.desc());
  const auto p = predictions.to_vector<int64_t>(), l = labels.to_vector<int64_t>();
  int64_t ok = 0;
  for (size_t i = 0; i < p.size(); ++i) ok += p[i] == l[i];
  return double(ok) / double(p.size());
}

std::vector<int64_t> confusion_matrix(const Tensor& predictions, const Tensor& labels,
                                      int64_t num_classes) {
  check_same_length(predictions, labels, "confusion_matrix");
  const auto p = class_vector(predictions, num_classes, "predictions", "confusion_matrix");
  const auto l = class_vector(labels, num_classes, "labels", "confusion_matrix");
  std::vector<int64_t> cm(static_cast<size_t>(num_classes * num_classes), 0);
  for (size_t i = 0; i < p.size(); ++i) ++cm[size_t(l[i] * num_classes + p[i])];
  return cm;
}

std::vector<double> per_class_accuracy(const Tensor& predictions, const Tensor& labels,
                                       int64_t num_classes) {
  const auto cm = confusion_matrix(predictions, labels, num_classes);
  std::vector<double> acc(static_cast<size_t>(num_classes));
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t row = 0;
    for (int64_t k = 0; k < num_classes; ++k) row += cm[size_t(c * num_classes + k)];
    acc[size_t(c)] = row ? double(cm[size_t(c * num_classes + c)]) / double(row) : NAN;
  }
  return acc;
}

ClassHistogram class_histogram(const Tensor& predictions, int64_t num_classes) {
  DIFFLAB_CHECK(num_classes >= 1, "class_histogram: num_classes must be >= 1, got ", num_classes);
  const auto p = class_vector(predictions, num_classes, "predictions", "class_histogram");
  DIFFLAB_CHECK(!p.empty(), "class_histogram: no predictions");
  ClassHistogram h;
  h.fractions.assign(size_t(num_classes), 0.0);
  for (int64_t c : p) h.fractions[size_t(c)] += 1.0 / double(p.size());
  for (double f : h.fractions)
    if (f > 0) {
      ++h.classes_covered;
      h.kl_from_uniform += f * std::log(f * double(num_classes));
    }
  return h;
}

std::pair<double, double> class_share_ratio_range(const std::vector<double>& share,
                                                  const std::vector<double>& reference) {
  DIFFLAB_CHECK(share.size() == reference.size(), "class_share_ratio_range: ", share.size(),
                " shares against ", reference.size(), " reference shares");
  double lo = INFINITY, hi = 0;
  for (size_t c = 0; c < share.size(); ++c) {
    if (!(reference[c] > 0)) continue;
    lo = std::min(lo, share[c] / reference[c]);
    hi = std::max(hi, share[c] / reference[c]);
  }
  return {lo, hi};
}

}  // namespace difflab::experiments
