#include "experiments/data/mnist.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "experiments/io.h"
#include "tensor/factory.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

constexpr size_t kHeaderBytes = 20;

uint32_t get_u32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xFF));
}

}  // namespace

std::string default_mnist_path() {
  const char* env = std::getenv("DIFFLAB_MNIST");
  return env && *env ? std::string(env) : std::string("data/mnist.bin");
}

MnistRaw read_mnist_cache(const std::string& path) {
  DIFFLAB_CHECK(file_exists(path), "MNIST cache '", path,
                "' not found: run scripts/fetch_mnist.sh from the repository root "
                "(or set DIFFLAB_MNIST to the cache's path)");
  return decode_mnist_cache(read_file(path), path);
}

MnistRaw decode_mnist_cache(const std::string& bytes, const std::string& path) {
  DIFFLAB_CHECK(bytes.size() >= kHeaderBytes, "MNIST cache '", path, "' is truncated (",
                bytes.size(), " bytes, header needs ", kHeaderBytes,
                "); delete it and run scripts/fetch_mnist.sh --force");
  const uint32_t magic = get_u32(bytes, 0), version = get_u32(bytes, 4);
  DIFFLAB_CHECK(magic == kMnistCacheMagic, "MNIST cache '", path, "' is corrupt: bad magic 0x",
                std::hex, magic, std::dec, "; run scripts/fetch_mnist.sh --force");
  DIFFLAB_CHECK(version == kMnistCacheVersion, "MNIST cache '", path, "' has version ", version,
                ", expected ", kMnistCacheVersion, "; run scripts/fetch_mnist.sh --force");
  const int64_t count = get_u32(bytes, 8), rows = get_u32(bytes, 12), cols = get_u32(bytes, 16);
  DIFFLAB_CHECK(rows == 28 && cols == 28, "MNIST cache '", path, "' is corrupt: images are ", rows,
                "x", cols, ", expected 28x28");
  const size_t expect = kHeaderBytes + size_t(count) * size_t(rows * cols + 1);
  DIFFLAB_CHECK(bytes.size() == expect, "MNIST cache '", path,
                "' is truncated or corrupt: ", bytes.size(), " bytes, expected ", expect, " for ",
                count, " images; run scripts/fetch_mnist.sh --force");
  MnistRaw raw;
  raw.pixels = Tensor::empty({count, rows, cols}, DType::u8);
  std::memcpy(raw.pixels.data<uint8_t>(), bytes.data() + kHeaderBytes, size_t(count * rows * cols));
  raw.labels = Tensor::empty({count}, DType::i64);
  int64_t* lab = raw.labels.data<int64_t>();
  const auto* src =
      reinterpret_cast<const unsigned char*>(bytes.data() + kHeaderBytes + count * rows * cols);
  for (int64_t i = 0; i < count; ++i) {
    DIFFLAB_CHECK(src[i] <= 9, "MNIST cache '", path, "' is corrupt: label ", int(src[i]),
                  " of image ", i, " is not a digit");
    lab[i] = src[i];
  }
  return raw;
}

void write_mnist_cache(const std::string& path, const MnistRaw& raw) {
  DIFFLAB_CHECK(raw.pixels.dtype() == DType::u8 && raw.pixels.dim() == 3,
                "write_mnist_cache: pixels must be u8 [N, 28, 28], got ", raw.pixels.desc());
  DIFFLAB_CHECK(raw.labels.dtype() == DType::i64 && raw.labels.dim() == 1 &&
                    raw.labels.size(0) == raw.pixels.size(0),
                "write_mnist_cache: labels must be i64 [", raw.pixels.size(0), "], got ",
                raw.labels.desc());
  const int64_t n = raw.pixels.size(0);
  std::string out;
  put_u32(out, kMnistCacheMagic);
  put_u32(out, kMnistCacheVersion);
  put_u32(out, uint32_t(n));
  put_u32(out, uint32_t(raw.pixels.size(1)));
  put_u32(out, uint32_t(raw.pixels.size(2)));
  Tensor px = raw.pixels.contiguous();
  out.append(reinterpret_cast<const char*>(px.data<uint8_t>()), size_t(px.numel()));
  for (int64_t v : raw.labels.to_vector<int64_t>()) {
    DIFFLAB_CHECK(v >= 0 && v <= 255, "write_mnist_cache: label ", v, " does not fit a byte");
    out.push_back(char(v));
  }
  write_file_atomic(path, out);
}

std::pair<Tensor, Tensor> stratified_split(const Tensor& labels, int64_t num_classes,
                                           int64_t train_percent) {
  DIFFLAB_CHECK(train_percent >= 0 && train_percent <= 100,
                "stratified_split: train_percent must be in [0, 100], got ", train_percent);
  std::vector<int64_t> counts = class_counts(labels, num_classes);
  std::vector<int64_t> seen(static_cast<size_t>(num_classes), 0), train, test;
  for (int64_t i = 0; const int64_t c : labels.to_vector<int64_t>()) {
    const int64_t n_train = counts[size_t(c)] * train_percent / 100;
    (seen[size_t(c)]++ < n_train ? train : test).push_back(i);
    ++i;
  }
  auto to_tensor = [](const std::vector<int64_t>& v) {
    return tensor::from_vector<int64_t>(v, {int64_t(v.size())});
  };
  return {to_tensor(train), to_tensor(test)};
}

MnistData load_mnist(const std::string& path, int64_t train_percent) {
  MnistRaw raw = read_mnist_cache(path);
  ImageSet all{pixels_to_images(raw.pixels), raw.labels};
  auto [train_idx, test_idx] = stratified_split(raw.labels, MnistData::num_classes, train_percent);
  MnistData d;
  d.train = subset(all, train_idx);
  d.test = subset(all, test_idx);
  return d;
}

}  // namespace difflab::experiments
