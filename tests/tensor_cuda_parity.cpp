// CUDA-vs-CPU parity of every op family in the op table (forward and gradients, f64 and f32,
// contiguous and strided inputs). Skipped, with the reason, where no GPU can be used.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "tests/support/parity.h"

using namespace difflab;
namespace dt = difflab::testing;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_CASE(elementwise_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::elementwise_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(shape_reduce_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::shape_reduce_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(linalg_conv_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::linalg_conv_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(norm_softmax_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::norm_softmax_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(index_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::index_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

// Shapes that reach the multi-warp, two-pass, column, chunked and multi-block paths and every
// U-Net convolution (tests/support/cases_large.cpp).
BOOST_AUTO_TEST_CASE(large_shape_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::large_parity_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

// Without a GPU the large cases still run on the CPU (f32, forward and gradients), so a shape
// that does not fit its op is found here and not in a GPU's few minutes.
BOOST_AUTO_TEST_CASE(large_cases_run_on_cpu) {
  const auto cases = dt::large_parity_cases();
  BOOST_TEST(cases.size() >= 40u);
  for (const auto& c : cases) {
    tensor::Generator gen(1);
    std::vector<ag::Var> xs;
    for (const auto& s : c.inputs)
      xs.emplace_back(dt::make_input(s, gen).to(tensor::DType::f32), true);
    try {
      ag::Var y = c.fn(xs);
      auto gs = ag::grad({ag::sum(y)}, xs, {}, false, true);
      BOOST_TEST(gs.size() == xs.size(), c.name);
      const double total = ag::sum(ag::abs(y)).value().to(tensor::DType::f64).item();
      BOOST_TEST(std::isfinite(total), c.name << ": non-finite forward");
    } catch (const std::exception& e) {
      BOOST_ERROR(c.name << " threw on the CPU: " << e.what());
    }
  }
}

// The harness itself (inputs, strided copies, cotangents, gradient counts, tolerances) on the
// large cases, with the CPU standing in for the GPU: whatever fails here is not the GPU's fault.
BOOST_AUTO_TEST_CASE(parity_harness_cpu_against_itself) {
  auto rep = dt::run_parity_table(dt::large_parity_cases(), tensor::Device::cpu());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons >= 2 * rep.cases);
}

// Reported in every build, so a CI log shows whether the parity cases ran.
BOOST_AUTO_TEST_CASE(report_device) {
  std::string why = dt::cuda_skip_reason();
  const std::string line = why.empty() ? std::string("cuda parity: running on cuda:0")
                                       : "cuda parity: skipped, no GPU: " + why;
  BOOST_TEST_MESSAGE(line);
  BOOST_TEST(true);
}
