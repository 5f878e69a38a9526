// The Boost precondition of test cases that need the real MNIST cache (data/mnist.bin, written by
// scripts/fetch_mnist.sh): Boost reports them as skipped when it is absent, and so does ctest
// (tests/CMakeLists.txt).
#pragma once
#include <boost/test/unit_test.hpp>

namespace difflab::testing {

boost::test_tools::assertion_result mnist_cache_present(boost::unit_test::test_unit_id);

}  // namespace difflab::testing
