// Fuzz target for the MNIST cache reader (data/mnist.bin, written by scripts/fetch_mnist.sh).
#include "experiments/data/mnist.h"

#include "fuzz/support.h"
#include "fuzz/targets.h"

namespace difflab::fuzz {

int fuzz_mnist(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  experiments::MnistRaw raw;
  try {
    raw = experiments::decode_mnist_cache(bytes, "fuzz-mnist.bin");
  } catch (const Error& e) {
    expect_message(e, "decode_mnist_cache");
    return 0;
  }
  const int64_t n = raw.pixels.size(0);
  if (raw.pixels.shape() != tensor::Shape{n, 28, 28} || raw.labels.shape() != tensor::Shape{n})
    finding("decode_mnist_cache returned pixels " + raw.pixels.desc() + " and labels " +
            raw.labels.desc());
  for (int64_t v : raw.labels.to_vector<int64_t>())
    if (v < 0 || v > 9) finding("decode_mnist_cache accepted label " + std::to_string(v));
  try {
    experiments::MnistData d = experiments::load_mnist(scratch_file("mnist.bin", bytes));
    if (d.train.images.size(0) + d.test.images.size(0) != n)
      finding("load_mnist split " + std::to_string(n) + " images into " +
              std::to_string(d.train.images.size(0)) + " + " +
              std::to_string(d.test.images.size(0)));
  } catch (const Error& e) {
    expect_message(e, "load_mnist");
  }
  return 0;
}

}  // namespace difflab::fuzz
