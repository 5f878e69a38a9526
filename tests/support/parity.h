// CUDA-vs-CPU parity over the op table: every case's forward and its gradients (a random
// cotangent pulled back through the graph) computed on cuda:0 and on the CPU from the same
// inputs, contiguous and strided, in f64 and f32. Without a usable GPU the suite skips and
// says why.
#pragma once
#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/support/op_table.h"

namespace difflab::testing {

// "" when cuda:0 can run kernels, else why not (no backend built, no driver, no GPU).
std::string cuda_skip_reason();

// Boost.Test precondition: the test is skipped (and the reason logged) without a GPU.
struct CudaAvailable {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

struct ParityReport {
  int cases = 0, comparisons = 0, failures = 0;
};
// Tolerances are relative to the largest magnitude of the CPU result: f64 atol 1e-9 (order of
// summation and the device's libm differ), f32 atol 2e-4 or the case's own, if looser.
// `device` is cuda:0 but for the harness's own test, which compares the CPU with itself.
ParityReport run_parity_table(const std::vector<OpCase>& cases,
                              const tensor::Device& device = tensor::Device::cuda(0));

// Largest |a - b| / max(1, max |b|), both moved to the CPU as f64.
double scaled_max_diff(const Tensor& a, const Tensor& b);

}  // namespace difflab::testing
