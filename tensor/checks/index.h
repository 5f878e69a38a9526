// Argument checks and output shapes of the joining and indexing ops (cat, index_select, gather,
// scatter_add, index_add, embedding, one_hot), shared by tensor/cpu/index.cpp and
// tensor/cuda/index.cu. Index values themselves are scanned by each backend, which reports the
// first bad one through fail_index_range.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

// cat's device rule: throws unless tensor i (defined) may join tensor 0.
using CatDeviceRule = void (*)(const Tensor& t, size_t i, const Tensor& first);

// Checks cat's inputs (at least one; all defined, placed by `rule`, of one dtype and matching
// shapes outside dim) and returns the output shape; `d` gets dim normalised.
Shape check_cat(const std::vector<Tensor>& xs, int64_t dim, CatDeviceRule rule, int64_t& d);

// "<op>: index must have dtype i64, got ...".
void check_index_dtype(const char* op, const Tensor& index);

// The error for an index value outside [0, size) along `dim` of `shape`.
[[noreturn]] void fail_index_range(const char* op, int64_t value, int64_t size, int64_t dim,
                                   const Shape& shape);

// index_select (and embedding's row lookup): x indexed along dim by a 1-D i64 index. Returns
// dim normalised.
int64_t check_index_select(const char* op, const Tensor& x, int64_t dim, const Tensor& index,
                           DeviceRule rule);
// gather: returns dim normalised.
int64_t check_gather(const Tensor& x, int64_t dim, const Tensor& index, DeviceRule rule);
// scatter_add: returns dim normalised.
int64_t check_scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src,
                          DeviceRule rule);
// index_add: returns the output shape (src's with `size` along dim); `d` gets dim normalised.
Shape check_index_add(const Tensor& src, int64_t dim, const Tensor& index, int64_t size,
                      DeviceRule rule, int64_t& d);
void check_embedding(const Tensor& weight, const Tensor& index, DeviceRule rule);
void check_one_hot(const Tensor& index, DeviceRule rule);

}  // namespace difflab::tensor::checks
