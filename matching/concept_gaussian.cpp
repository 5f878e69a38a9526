#include "matching/concept_gaussian.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

// Σ over m probes of u ⊙ (J u), [1, ...]: one JVP on the batch of m copies of x.
Tensor probe_sum(const EpsFn& eps, const Tensor& x, int64_t t, int64_t m, tensor::Generator& gen) {
  tensor::Shape shape = x.shape();
  shape[0] = m;
  const Tensor u = tensor::affine(tensor::randint(0, 2, shape, &gen).to(x.dtype()), 2.0, -1.0);
  ag::GradModeGuard on(true);
  const Var xb(x.expand(shape).contiguous(), true);
  const Var out = eps(xb, t);
  DIFFLAB_CHECK(out.shape() == shape && out.dtype() == x.dtype(), "jacobian_diagonal: eps(x, t = ",
                t, ") returned ", out.value().desc(), " for x ", xb.value().desc(),
                "; it must match x");
  const Tensor ju = ag::jvp(out, {xb}, {Var(u)}).value();
  return tensor::sum(tensor::binary(tensor::BinaryOp::mul, u, ju), {0}, true);
}

void check_point(const Tensor& x, double alpha_bar, const char* op) {
  DIFFLAB_CHECK(x.defined() && x.dim() >= 2 && x.size(0) == 1, op, ": the point must be [1, ...], got ",
                x.defined() ? x.desc() : "undefined");
  DIFFLAB_CHECK(alpha_bar > 0 && alpha_bar < 1, op, ": alpha_bar = ", alpha_bar, " outside (0, 1)");
}

}  // namespace

const char* covariance_kind_name(CovarianceKind k) {
  switch (k) {
    case CovarianceKind::isotropic: return "isotropic";
    case CovarianceKind::diagonal: return "diagonal";
    case CovarianceKind::trace: return "trace";
  }
  return "?";
}

CovarianceKind parse_covariance_kind(const std::string& name) {
  for (CovarianceKind k : {CovarianceKind::isotropic, CovarianceKind::diagonal, CovarianceKind::trace})
    if (name == covariance_kind_name(k)) return k;
  DIFFLAB_FAIL("unknown covariance kind '", name, "' (isotropic, diagonal, trace)");
}

Tensor jacobian_diagonal(const EpsFn& eps, const Tensor& x, int64_t t, int64_t probes,
                         int64_t probe_batch, tensor::Generator& gen) {
  DIFFLAB_CHECK(bool(eps), "jacobian_diagonal: empty eps callable");
  DIFFLAB_CHECK(x.defined() && x.dim() >= 2 && x.size(0) == 1,
                "jacobian_diagonal: the point must be [1, ...], got ", x.defined() ? x.desc() : "undefined");
  DIFFLAB_CHECK(probes >= 1 && probe_batch >= 1, "jacobian_diagonal: probes (", probes,
                ") and probe_batch (", probe_batch, ") must be >= 1");
  Tensor total = tensor::zeros_like(x);
  for (int64_t done = 0; done < probes; done += probe_batch) {
    const int64_t m = std::min(probe_batch, probes - done);
    total = tensor::binary(tensor::BinaryOp::add, total, probe_sum(eps, x, t, m, gen));
  }
  return tensor::affine(total, 1.0 / double(probes), 0.0);
}

ConceptGaussian concept_gaussian(const EpsFn& eps, const Tensor& x, int64_t t, double alpha_bar,
                                 const GaussianOptions& o, tensor::Generator& gen) {
  check_point(x, alpha_bar, "concept_gaussian");
  DIFFLAB_CHECK(bool(eps), "concept_gaussian: empty eps callable");
  DIFFLAB_CHECK(o.v_min > 0, "concept_gaussian: v_min = ", o.v_min, " must be > 0");
  ConceptGaussian g{t, alpha_bar, tweedie_mean(eps, x, t, alpha_bar), Tensor()};
  const double s2 = (1 - alpha_bar) / alpha_bar, lo = std::min(o.v_min, s2);
  if (o.kind == CovarianceKind::isotropic) {
    g.var = tensor::full_like(x, s2);
    return g;
  }
  Tensor d = jacobian_diagonal(eps, x, t, o.probes, o.probe_batch, gen);
  if (o.kind == CovarianceKind::trace) d = tensor::full_like(x, tensor::mean(d, {}).item());
  g.var = tensor::clamp(tensor::affine(d, -s2 * std::sqrt(1 - alpha_bar), s2), lo, s2);
  return g;
}

std::vector<ConceptGaussian> mode_gaussians(const EpsFn& eps, const std::vector<Mode>& modes,
                                            const GaussianOptions& o, tensor::Generator& gen) {
  std::vector<ConceptGaussian> out;
  for (const Mode& m : modes) out.push_back(concept_gaussian(eps, m.x, m.t, m.alpha_bar, o, gen));
  return out;
}

}  // namespace difflab::matching
