#include "tests/support/mnist_gate.h"

#include <string>

#include "experiments/io.h"

namespace difflab::testing {

boost::test_tools::assertion_result mnist_cache_present(boost::unit_test::test_unit_id) {
  const std::string path = std::string(DIFFLAB_SOURCE_DIR) + "/data/mnist.bin";
  boost::test_tools::assertion_result r(experiments::file_exists(path));
  r.message() << path << " absent (run scripts/fetch_mnist.sh)";
  return r;
}

}  // namespace difflab::testing
