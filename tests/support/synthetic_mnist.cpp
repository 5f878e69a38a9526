#include "tests/support/synthetic_mnist.h"

#include <cstdlib>
#include <vector>

#include "experiments/data/mnist.h"
#include "tensor/factory.h"

namespace difflab::testing {

void use_synthetic_mnist(const std::string& path) {
  const int64_t per = 100, n = 10 * per;
  tensor::Tensor px = tensor::zeros({n, 28, 28}, tensor::DType::u8);
  std::vector<int64_t> labels;
  uint8_t* p = px.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = i % 10, start = 4 + (i / 10) % 8;
    labels.push_back(d);
    for (int64_t r = 3 + 2 * d; r < 5 + 2 * d; ++r)
      for (int64_t c = start; c < start + 12; ++c)
        p[i * 784 + r * 28 + c] = uint8_t(155 + (i * 7 + c) % 100);
  }
  experiments::write_mnist_cache(path, {px, tensor::from_vector<int64_t>(labels, {n})});
  ::setenv("DIFFLAB_MNIST", path.c_str(), 1);
}

}  // namespace difflab::testing
