// Eigendecomposition of a real symmetric matrix by the cyclic Jacobi method, in f64: A = V Λ Vᵀ.
// Quadratic convergence once the off-diagonal is small; O(n³) per sweep, a few sweeps, so it
// suits the ≤ 256-dimensional covariances of Fréchet distances. Also the PSD square root.
#pragma once
#include <cstdint>
#include <vector>

namespace difflab::experiments {

struct SymEigen {
  int64_t n = 0;
  std::vector<double> values;   // ascending
  std::vector<double> vectors;  // row-major n×n; column j is the eigenvector of values[j]
  int sweeps = 0;               // sweeps used
};

// a: row-major n×n, symmetric up to round-off (checked: |a_ij − a_ji| ≤ 1e-8·max|a|; the mean
// of the two is used). Stops when the off-diagonal norm is below 1e-15 of the matrix norm.
SymEigen sym_eigen(const std::vector<double>& a, int64_t n, int max_sweeps = 60);

// V diag(√max(λ, 0)) Vᵀ: the square root of a symmetric positive semi-definite matrix, with the
// round-off negative eigenvalues clamped to 0.
std::vector<double> sqrtm_psd(const std::vector<double>& a, int64_t n);

}  // namespace difflab::experiments
