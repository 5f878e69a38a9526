// Shape helpers: element counts, contiguous strides, dim normalisation, NumPy broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace difflab::tensor {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
// Maps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
std::string shape_str(const Shape& s);

}  // namespace difflab::tensor
