#include "experiments/metrics/sym_eigen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace difflab::experiments {

SymEigen sym_eigen(const std::vector<double>& a_in, int64_t n, int max_sweeps) {
  DIFFLAB_CHECK(n >= 1 && a_in.size() == size_t(n * n), "sym_eigen: expected ", n, "x", n, " = ",
                n * n, " values, got ", a_in.size());
  double amax = 0;
  for (double v : a_in) {
    DIFFLAB_CHECK(std::isfinite(v), "sym_eigen: matrix has a non-finite entry (", v, ")");
    amax = std::max(amax, std::abs(v));
  }
  std::vector<double> a(a_in.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double u = a_in[size_t(i * n + j)], l = a_in[size_t(j * n + i)];
      DIFFLAB_CHECK(std::abs(u - l) <= 1e-8 * amax, "sym_eigen: matrix is not symmetric: a[", i,
                    "][", j, "] = ", u, " vs a[", j, "][", i, "] = ", l);
      a[size_t(i * n + j)] = 0.5 * (u + l);
    }
  // w holds Vᵀ: row j is the j-th eigenvector estimate, so each rotation updates two contiguous
  // rows of w and of a (a stays exactly symmetric by mirroring), never strided columns.
  std::vector<double> w(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) w[size_t(i * n + i)] = 1.0;
  auto A = [&](int64_t i, int64_t j) -> double& { return a[size_t(i * n + j)]; };

  double total = 0;
  for (double x : a) total += x * x;
  SymEigen r;
  r.n = n;
  for (; r.sweeps < max_sweeps; ++r.sweeps) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += 2 * A(p, q) * A(p, q);
    if (off <= 1e-30 * total) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = A(p, q);
        // Negligible next to both diagonal entries (it cannot change them in f64): drop it.
        // This is what lets the sweeps end with an exactly zero off-diagonal.
        if (std::abs(A(p, p)) + 1e2 * std::abs(apq) == std::abs(A(p, p)) &&
            std::abs(A(q, q)) + 1e2 * std::abs(apq) == std::abs(A(q, q))) {
          A(p, q) = A(q, p) = 0.0;
          continue;
        }
        // Rotation zeroing a_pq (Golub & Van Loan, Alg. 8.5.1): the smaller root t of
        // t² + 2θt − 1 = 0 keeps the rotation angle ≤ π/4, which gives convergence.
        const double theta = (A(q, q) - A(p, p)) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        double* rp = &A(p, 0);
        double* rq = &A(q, 0);
        for (int64_t k = 0; k < n; ++k) {
          if (k == p || k == q) continue;
          const double apk = rp[k], aqk = rq[k];
          rp[k] = c * apk - s * aqk;
          rq[k] = s * apk + c * aqk;
          A(k, p) = rp[k];
          A(k, q) = rq[k];
        }
        A(p, p) -= t * apq;
        A(q, q) += t * apq;
        A(p, q) = A(q, p) = 0.0;
        double* wp = &w[size_t(p * n)];
        double* wq = &w[size_t(q * n)];
        for (int64_t k = 0; k < n; ++k) {
          const double vp = wp[k], vq = wq[k];
          wp[k] = c * vp - s * vq;
          wq[k] = s * vp + c * vq;
        }
      }
  }
  DIFFLAB_CHECK(r.sweeps < max_sweeps, "sym_eigen: no convergence after ", max_sweeps,
                " sweeps (n = ", n, ")");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return A(i, i) < A(j, j); });
  r.values.resize(size_t(n));
  r.vectors.resize(size_t(n * n));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t src = order[size_t(j)];
    r.values[size_t(j)] = A(src, src);
    for (int64_t i = 0; i < n; ++i) r.vectors[size_t(i * n + j)] = w[size_t(src * n + i)];
  }
  return r;
}

std::vector<double> sqrtm_psd(const std::vector<double>& a, int64_t n) {
  const SymEigen e = sym_eigen(a, n);
  std::vector<double> out(size_t(n * n), 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const double s = std::sqrt(std::max(e.values[size_t(k)], 0.0));
    if (s == 0) continue;
    for (int64_t i = 0; i < n; ++i) {
      const double vik = s * e.vectors[size_t(i * n + k)];
      for (int64_t j = 0; j < n; ++j) out[size_t(i * n + j)] += vik * e.vectors[size_t(j * n + k)];
    }
  }
  return out;
}

}  // namespace difflab::experiments
