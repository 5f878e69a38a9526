#include "matching/concept_poe.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

using tensor::BinaryOp;
using tensor::DType;

double min_of(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  return *std::min_element(v.begin(), v.end());
}

void check_gaussian(const Tensor& mean, const Tensor& var, const tensor::Shape& shape,
                    const char* op, size_t k) {
  DIFFLAB_CHECK(mean.defined() && var.defined() && mean.dim() >= 2 && mean.size(0) == 1,
                op, ": expert ", k, "'s mean must be [1, ...] and its var defined");
  DIFFLAB_CHECK(mean.shape() == shape && var.shape() == shape, op, ": expert ", k, " has mean ",
                mean.desc(), " and var ", var.desc(), "; every mean and var must be ",
                tensor::shape_str(shape));
  DIFFLAB_CHECK(min_of(var) > 0, op, ": expert ", k, "'s variances must be > 0");
}

void check_experts(const std::vector<Expert>& experts, const char* op) {
  DIFFLAB_CHECK(!experts.empty(), op, ": no experts");
  for (size_t k = 0; k < experts.size(); ++k) {
    check_gaussian(experts[k].mean, experts[k].var, experts[0].mean.shape(), op, k);
    DIFFLAB_CHECK(experts[k].weight > 0 && std::isfinite(experts[k].weight), op, ": expert ", k,
                  "'s weight ", experts[k].weight, " must be positive and finite");
  }
}

void check_masks(const std::vector<Tensor>& masks, const std::vector<Expert>& experts) {
  DIFFLAB_CHECK(masks.empty() || masks.size() == experts.size(), "poe_product: ", masks.size(),
                " masks for ", experts.size(), " experts");
  for (size_t k = 0; k < masks.size(); ++k)
    DIFFLAB_CHECK(masks[k].defined() && masks[k].shape() == experts[k].mean.shape() &&
                      min_of(masks[k]) >= 0,
                  "poe_product: mask ", k, " must be >= 0 with the experts' shape ",
                  experts[k].mean.desc());
}

// ᾱ v + 1 − ᾱ after checking x_t [B, ...] against the Gaussian's shape [1, ...].
Tensor diffused_var(const DiagGaussian& g, const Var& x_t, double alpha_bar, const char* op) {
  check_gaussian(g.mean, g.var, g.mean.shape(), op, 0);
  tensor::Shape rows = g.mean.shape();
  rows[0] = x_t.defined() && x_t.dim() >= 1 ? x_t.size(0) : -1;
  DIFFLAB_CHECK(x_t.defined() && x_t.shape() == rows, op, ": x_t ",
                x_t.defined() ? x_t.value().desc() : "undefined", " must be [B, ...] like the mean ",
                g.mean.desc());
  DIFFLAB_CHECK(alpha_bar > 0 && alpha_bar <= 1, op, ": alpha_bar = ", alpha_bar, " outside (0, 1]");
  return tensor::affine(g.var.to(x_t.dtype()), alpha_bar, 1 - alpha_bar);
}

Var centred(const DiagGaussian& g, const Var& x_t, double alpha_bar) {  // x_t − √ᾱ μ
  return x_t - Var(tensor::affine(g.mean.to(x_t.dtype()), std::sqrt(alpha_bar), 0.0));
}

}  // namespace

DiagGaussian poe_product(const std::vector<Expert>& experts, const std::vector<Tensor>& masks) {
  check_experts(experts, "poe_product");
  check_masks(masks, experts);
  const tensor::Shape shape = experts[0].mean.shape();
  Tensor precision = tensor::zeros(shape, DType::f64), weighted = tensor::zeros(shape, DType::f64);
  for (size_t k = 0; k < experts.size(); ++k) {
    const Tensor inv = tensor::unary(tensor::UnaryOp::reciprocal, experts[k].var.to(DType::f64));
    Tensor p = tensor::affine(inv, experts[k].weight, 0.0);
    if (!masks.empty()) p = tensor::binary(BinaryOp::mul, p, masks[k].to(DType::f64));
    precision = tensor::binary(BinaryOp::add, precision, p);
    weighted = tensor::binary(BinaryOp::add, weighted,
                              tensor::binary(BinaryOp::mul, p, experts[k].mean.to(DType::f64)));
  }
  DIFFLAB_CHECK(min_of(precision) > 0, "poe_product: a coordinate has zero total precision "
                "(every mask is 0 there)");
  const Tensor var = tensor::unary(tensor::UnaryOp::reciprocal, precision);
  return {tensor::binary(BinaryOp::mul, weighted, var), var};
}

Var diffused_log_density(const DiagGaussian& g, const Var& x_t, double alpha_bar) {
  const Tensor v = diffused_var(g, x_t, alpha_bar, "diffused_log_density");
  const Var d = centred(g, x_t, alpha_bar);
  const Var quad = ag::sum(ag::flatten(d * d / Var(v), 1), {1});
  const Tensor log_det = tensor::unary(tensor::UnaryOp::log, tensor::affine(v, 2 * std::numbers::pi, 0.0));
  return ag::affine(quad, -0.5, -0.5 * tensor::sum(log_det, {}).item());
}

Var diffused_score(const DiagGaussian& g, const Var& x_t, double alpha_bar) {
  const Tensor v = diffused_var(g, x_t, alpha_bar, "diffused_score");
  return -(centred(g, x_t, alpha_bar) / Var(v));
}

Var score_sum_log_density(const std::vector<Expert>& experts, const Var& x_t, double alpha_bar) {
  check_experts(experts, "score_sum_log_density");
  Var total;
  for (const Expert& e : experts) {
    const Var term = diffused_log_density({e.mean, e.var}, x_t, alpha_bar) * e.weight;
    total = total.defined() ? total + term : term;
  }
  return total;
}

Var score_sum_score(const std::vector<Expert>& experts, const Var& x_t, double alpha_bar) {
  check_experts(experts, "score_sum_score");
  Var total;
  for (const Expert& e : experts) {
    const Var term = diffused_score({e.mean, e.var}, x_t, alpha_bar) * e.weight;
    total = total.defined() ? total + term : term;
  }
  return total;
}

}  // namespace difflab::matching
