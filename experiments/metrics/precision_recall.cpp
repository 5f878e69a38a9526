#include "experiments/metrics/precision_recall.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

constexpr int64_t kBlock = 512;

// Squared distances of rows [r0, r0 + rows) of a to every row of b, row-major.
std::vector<double> block_d2(const Tensor& a, const Tensor& b, int64_t r0, int64_t rows) {
  return tensor::cdist2(a.slice(0, r0, r0 + rows), b).contiguous().to_vector<double>();
}

// Each point's squared distance to its k-th nearest neighbour in the same set (itself excluded).
std::vector<double> knn_radius2(const Tensor& x, int64_t k) {
  const int64_t n = x.size(0);
  std::vector<double> r(static_cast<size_t>(n));
  for (int64_t r0 = 0; r0 < n; r0 += kBlock) {
    const int64_t rows = std::min(kBlock, n - r0);
    std::vector<double> d = block_d2(x, x, r0, rows);
    for (int64_t i = 0; i < rows; ++i) {
      auto row = d.begin() + i * n;
      row[r0 + i] = INFINITY;  // not its own neighbour
      std::nth_element(row, row + (k - 1), row + n);
      r[size_t(r0 + i)] = row[k - 1];
    }
  }
  return r;
}

// The share of rows of q inside the union of balls (centres p, squared radii r2).
double coverage(const Tensor& q, const Tensor& p, const std::vector<double>& r2) {
  const int64_t n = q.size(0), m = p.size(0);
  int64_t inside = 0;
  for (int64_t r0 = 0; r0 < n; r0 += kBlock) {
    const int64_t rows = std::min(kBlock, n - r0);
    std::vector<double> d = block_d2(q, p, r0, rows);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < m; ++j)
        if (d[size_t(i * m + j)] <= r2[size_t(j)]) {
          ++inside;
          break;
        }
  }
  return double(inside) / double(n);
}

}  // namespace

PrecisionRecall precision_recall(const Tensor& generated, const Tensor& real, int64_t k) {
  const int64_t n = std::min(generated.size(0), real.size(0));
  DIFFLAB_CHECK(n > k && k >= 1, "precision_recall: need more than k = ", k,
                " points in each set, got ", generated.size(0), " and ", real.size(0));
  auto flat = [n](const Tensor& t) {
    return t.slice(0, 0, n).reshape({n, t.numel() / t.size(0)}).to(DType::f64).contiguous();
  };
  const Tensor g = flat(generated), r = flat(real);
  PrecisionRecall out;
  out.precision = coverage(g, r, knn_radius2(r, k));
  out.recall = coverage(r, g, knn_radius2(g, k));
  return out;
}

}  // namespace difflab::experiments
