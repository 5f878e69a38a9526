#include "matching/kernels.h"

#include <cmath>

#include "autograd/functions.h"
#include "matching/divergence.h"
#include "matching/sample_sets.h"

namespace difflab::matching {

using ag::Var;

const std::vector<KernelKind>& all_kernels() {
  static const std::vector<KernelKind> kinds = {KernelKind::gaussian, KernelKind::laplace,
                                                KernelKind::imq, KernelKind::energy};
  return kinds;
}

const char* kernel_name(KernelKind kind) {
  switch (kind) {
    case KernelKind::gaussian:
      return "gaussian";
    case KernelKind::laplace:
      return "laplace";
    case KernelKind::imq:
      return "imq";
    case KernelKind::energy:
      return "energy";
  }
  return "?";
}

KernelKind parse_kernel(const std::string& name) {
  for (KernelKind k : all_kernels())
    if (name == kernel_name(k)) return k;
  DIFFLAB_FAIL("unknown kernel '", name, "' (expected gaussian, laplace, imq or energy)");
}

bool kernel_has_bandwidth(KernelKind kind) { return kind != KernelKind::energy; }

namespace {

void check_bandwidth(double h, const char* op) {
  DIFFLAB_CHECK(h > 0 && std::isfinite(h), op, ": bandwidth ", h, " is not > 0");
}

}  // namespace

Var laplace_kernel(const Var& x, const Var& y, double bandwidth) {
  check_bandwidth(bandwidth, "laplace_kernel");
  auto [fx, fy] = as_features(x, y, "laplace_kernel");
  return ag::exp(ag::affine(pairwise_distance(fx, fy), -1.0 / bandwidth, 0.0));
}

Var imq_kernel(const Var& x, const Var& y, double bandwidth) {
  check_bandwidth(bandwidth, "imq_kernel");
  auto [fx, fy] = as_features(x, y, "imq_kernel");
  // (1 + r²/h²)^(−1/2) from the squared distance directly: smooth at r = 0, no √ of 0 needed.
  return ag::rsqrt(ag::affine(ag::cdist2(fx, fy), 1.0 / (bandwidth * bandwidth), 1.0));
}

Var energy_kernel(const Var& x, const Var& y) { return -pairwise_distance(x, y); }

Var kernel_matrix(const Var& x, const Var& y, KernelKind kind,
                  const std::vector<double>& bandwidths) {
  if (kind == KernelKind::energy) return energy_kernel(x, y);
  if (kind == KernelKind::gaussian) return gaussian_kernel(x, y, bandwidths);
  DIFFLAB_CHECK(!bandwidths.empty(), "kernel_matrix: no bandwidth given for kernel ",
                kernel_name(kind));
  Var k;
  for (double h : bandwidths) {
    Var kh = kind == KernelKind::laplace ? laplace_kernel(x, y, h) : imq_kernel(x, y, h);
    k = k.defined() ? k + kh : kh;
  }
  return k;
}

}  // namespace difflab::matching
