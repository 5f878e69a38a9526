// CUDA-vs-CPU parity over the op table: every case's forward and its gradients (a random
// cotangent pulled back through the graph) computed on cuda:0 and on the CPU from the same
// inputs, contiguous and strided, in f64 and f32. Without a usable GPU the suite skips and
// says why.
#pragma once
#include "tests/support/cuda_gate.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

struct ParityReport {
  int cases = 0, comparisons = 0, failures = 0;
};
// Tolerances are relative to the largest magnitude of the CPU result: f64 atol 1e-9 (order of
// summation and the device's libm differ), f32 atol 2e-4 or the case's own, if looser.
// `device` is cuda:0 but for the harness's own test, which compares the CPU with itself.
ParityReport run_parity_table(const std::vector<OpCase>& cases,
                              const tensor::Device& device = tensor::Device::cuda(0));

}  // namespace difflab::testing
