// Whether cuda:0 can run kernels, as a Boost.Test precondition that skips a test and says why,
// and the scaled difference that CUDA-vs-CPU comparisons assert on.
#pragma once
#include <boost/test/unit_test.hpp>
#include <string>

#include "tensor/tensor.h"

namespace difflab::testing {

using tensor::Tensor;

// "" when cuda:0 can run kernels, else why not (no backend built, no driver, no GPU).
std::string cuda_skip_reason();

// Boost.Test precondition: the test is skipped (and the reason logged) without a GPU.
struct CudaAvailable {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

// Largest |a - b| / max(1, max |b|), both moved to the CPU as f64.
double scaled_max_diff(const Tensor& a, const Tensor& b);

}  // namespace difflab::testing
