#include "matching/concept_evidence.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

using tensor::BinaryOp;
using tensor::DType;

// The number of groups P = max id + 1, after checking groups is i64 [d] with ids >= 0.
int64_t group_count(const Tensor& groups, int64_t d, const char* op) {
  DIFFLAB_CHECK(groups.defined() && groups.dtype() == DType::i64 && groups.dim() == 1 &&
                    groups.size(0) == d,
                op, ": groups must be i64 [", d, "] (one id per coordinate), got ",
                groups.defined() ? groups.desc() : "undefined");
  const std::vector<int64_t> ids = groups.to_vector<int64_t>();
  DIFFLAB_CHECK(d > 0 && *std::min_element(ids.begin(), ids.end()) >= 0, op,
                ": group ids must be >= 0");
  return *std::max_element(ids.begin(), ids.end()) + 1;
}

Tensor rows_f64(const Tensor& x, int64_t d) { return x.reshape({x.size(0), d}).to(DType::f64); }

}  // namespace

Tensor patch_groups(int64_t channels, int64_t height, int64_t width, int64_t patch) {
  DIFFLAB_CHECK(channels >= 1 && height >= 1 && width >= 1 && patch >= 1,
                "patch_groups: channels (", channels, "), height (", height, "), width (", width,
                ") and patch (", patch, ") must be >= 1");
  const int64_t across = (width + patch - 1) / patch;
  std::vector<int64_t> ids(size_t(channels * height * width));
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        ids[size_t((c * height + y) * width + x)] = (y / patch) * across + x / patch;
  return tensor::from_vector<int64_t>(ids, {int64_t(ids.size())});
}

Tensor coordinate_groups(int64_t d) {
  DIFFLAB_CHECK(d >= 1, "coordinate_groups: d = ", d, " must be >= 1");
  return tensor::arange(0, double(d), 1.0, DType::i64);
}

Tensor group_log_likelihoods(const Tensor& query, const Tensor& means, const Tensor& vars,
                             const Tensor& groups) {
  DIFFLAB_CHECK(query.defined() && means.defined() && vars.defined() && query.dim() >= 2 &&
                    query.size(0) == 1,
                "group_log_likelihoods: the query must be [1, ...], with means and vars defined");
  tensor::Shape trailing(query.shape().begin() + 1, query.shape().end());
  tensor::Shape mean_shape = means.shape();
  mean_shape.erase(mean_shape.begin());
  DIFFLAB_CHECK(means.shape() == vars.shape() && mean_shape == trailing,
                "group_log_likelihoods: means ", means.desc(), " and vars ", vars.desc(),
                " must be [K, ...] with the query's trailing shape (query ", query.desc(), ")");
  const int64_t d = query.numel(), p = group_count(groups, d, "group_log_likelihoods");
  const Tensor v = rows_f64(vars, d);
  const std::vector<double> vv = v.to_vector<double>();
  DIFFLAB_CHECK(vv.empty() || *std::min_element(vv.begin(), vv.end()) > 0,
                "group_log_likelihoods: variances must be > 0");
  const Tensor diff = tensor::binary(BinaryOp::sub, rows_f64(means, d), rows_f64(query, d));
  const Tensor mahal = tensor::binary(BinaryOp::div, tensor::binary(BinaryOp::mul, diff, diff), v);
  const Tensor log_det = tensor::unary(tensor::UnaryOp::log, tensor::affine(v, 2 * std::numbers::pi, 0.0));
  const Tensor lp = tensor::affine(tensor::binary(BinaryOp::add, mahal, log_det), -0.5, 0.0);
  return tensor::index_add(lp, 1, groups.contiguous(), p);
}

const char* evidence_baseline_name(EvidenceBaseline b) {
  return b == EvidenceBaseline::identity ? "identity" : "matched";
}

EvidenceBaseline parse_evidence_baseline(const std::string& name) {
  for (EvidenceBaseline b : {EvidenceBaseline::identity, EvidenceBaseline::matched})
    if (name == evidence_baseline_name(b)) return b;
  DIFFLAB_FAIL("unknown evidence baseline '", name, "' (identity, matched)");
}

Evidence build_evidence(const std::vector<ConceptGaussian>& candidates, const Tensor& query,
                        const Tensor& mean_image, const Tensor& groups, EvidenceBaseline baseline) {
  DIFFLAB_CHECK(!candidates.empty(), "build_evidence: no candidates");
  std::vector<Tensor> means, vars;
  for (const ConceptGaussian& g : candidates) {
    DIFFLAB_CHECK(g.mean.defined() && g.var.defined() && g.mean.shape() == query.shape() &&
                      g.var.shape() == query.shape(),
                  "build_evidence: candidate ", means.size(), "'s mean and var must have the query's shape ",
                  query.desc());
    means.push_back(g.mean.to(DType::f64));
    vars.push_back(g.var.to(DType::f64));
  }
  DIFFLAB_CHECK(mean_image.defined() && mean_image.shape() == query.shape(),
                "build_evidence: mean_image ", mean_image.defined() ? mean_image.desc() : "undefined",
                " must have the query's shape ", query.desc());
  const Tensor m = tensor::cat(means, 0), v = tensor::cat(vars, 0);
  const Tensor ll = group_log_likelihoods(query, m, v, groups);
  if (baseline == EvidenceBaseline::matched) {
    const Tensor bar = mean_image.to(DType::f64).expand(m.shape()).contiguous();
    const Tensor ratio = tensor::binary(tensor::BinaryOp::sub, ll, group_log_likelihoods(query, bar, v, groups));
    return {ll.size(0), ll.size(1), ratio.to_vector<double>(), std::vector<double>(size_t(ll.size(1)), 0.0)};
  }
  const Tensor b = group_log_likelihoods(query, mean_image, tensor::ones_like(mean_image), groups);
  return {ll.size(0), ll.size(1), ll.to_vector<double>(), b.to_vector<double>()};
}

std::vector<Tensor> coordinate_masks(const Tensor& rho, const Tensor& groups,
                                     const tensor::Shape& shape) {
  DIFFLAB_CHECK(rho.defined() && rho.dim() == 2, "coordinate_masks: rho must be [S, P], got ",
                rho.defined() ? rho.desc() : "undefined");
  const int64_t p = group_count(groups, tensor::shape_numel(shape), "coordinate_masks");
  DIFFLAB_CHECK(p <= rho.size(1), "coordinate_masks: groups name ", p, " groups but rho ",
                rho.desc(), " has ", rho.size(1));
  const Tensor spread = tensor::index_select(rho.to(DType::f64), 1, groups.contiguous());
  std::vector<Tensor> masks;
  for (int64_t s = 0; s < rho.size(0); ++s) masks.push_back(spread.select(0, s).reshape(shape));
  return masks;
}

}  // namespace difflab::matching
