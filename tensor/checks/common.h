// Argument checks that both backends share (tensor/cpu/*.cpp and tensor/cuda/*.cu): whatever
// depends only on shapes, dtypes and parameters lives in tensor/checks/, so the two devices reject
// the same inputs with the same message. Where an operand must live is each backend's own rule,
// passed in as a function so that the checks still run in the order every op has always used.
// Plain C++ (compiled by the host compiler); the .cu files include these headers.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::tensor::checks {

// A backend's device rule: throws unless operand `t` (named `what`, already known to be defined)
// may be used together with `ref` (named `ref_what`, the operand the op was routed on).
using DeviceRule = void (*)(const char* op, const Tensor& ref, const char* ref_what,
                            const Tensor& t, const char* what);

// The rule of a backend whose operands share one device:
// "<op>: inputs on different devices, <ref_what> <ref> and <what> <t>".
void same_device(const char* op, const Tensor& ref, const char* ref_what, const Tensor& t,
                 const char* what);

// "<op>: <what> is undefined".
void check_defined(const char* op, const Tensor& t, const char* what);

// check_defined, then the device rule.
void check_operand(const char* op, const Tensor& ref, const char* ref_what, const Tensor& t,
                   const char* what, DeviceRule rule);

// "<op>: dtype mismatch, f32[2, 3] vs f64[3]".
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
// The same naming the operands: "<op>: dtype mismatch, <wa> f32[2, 3] vs <wb> f64[3]".
void check_same_dtype(const char* op, const char* wa, const Tensor& a, const char* wb,
                      const Tensor& b);

// Sizes before and after `dim` (the [outer, n, inner] view of a contiguous tensor).
void outer_inner(const Shape& s, int64_t dim, int64_t& outer, int64_t& inner);

// The permutation that moves `d` last, and its inverse.
void last_dim_perm(int64_t nd, int64_t d, std::vector<int64_t>& perm, std::vector<int64_t>& inv);

}  // namespace difflab::tensor::checks
