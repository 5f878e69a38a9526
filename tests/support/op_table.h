// The op table: one list of cases per op family, shared by the f64 finite-difference gradcheck
// (first and second order) and, later, the CUDA-vs-CPU parity suite.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/var.h"
#include "tensor/random.h"

namespace difflab::testing {

using ag::Var;
using tensor::Shape;
using tensor::Tensor;

enum class Domain {
  any,       // standard normal
  positive,  // in [0.5, 2] (log, sqrt, pow, division)
  unit,      // in (-0.9, 0.9)
};

struct InputSpec {
  Shape shape;
  Domain domain = Domain::any;
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  ag::VarFn fn;
  bool second_order = false;   // also run gradgradcheck
  bool strided = true;         // also run with non-contiguous copies of the inputs
  double atol = 1e-6, rtol = 1e-4;
};

// Random f64 input for a spec (deterministic for a given generator state).
Tensor make_input(const InputSpec& spec, tensor::Generator& gen);
// The same values, held in a non-contiguous view (every other element of a larger buffer).
Tensor make_noncontiguous(const Tensor& t);

struct TableReport {
  int cases = 0, first_order = 0, second_order = 0, failures = 0;
};
// Runs gradcheck (and gradgradcheck where asked) on every case, reporting through Boost.Test.
TableReport run_gradcheck_table(const std::vector<OpCase>& cases);

// Case lists, one per family (tests/support/cases_<family>.cpp).
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> shape_reduce_cases();
std::vector<OpCase> linalg_conv_cases();
std::vector<OpCase> norm_softmax_cases();
std::vector<OpCase> index_cases();
// Parity only (tests/support/cases_large.cpp): shapes that reach every CUDA code path, too
// large for finite differences.
std::vector<OpCase> large_parity_cases();

}  // namespace difflab::testing
