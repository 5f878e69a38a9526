#include "experiments/data/fashion_mnist.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include "experiments/data/image_set.h"
#include "experiments/io.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

const char* const kFiles[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

// Whole file through zlib (gzread also passes plain files through unchanged).
std::string read_gz(const std::string& path) {
  DIFFLAB_CHECK(file_exists(path), "Fashion-MNIST file '", path,
                "' not found: install Debian's package with `apt-get install "
                "dataset-fashion-mnist` (or set DIFFLAB_FASHION_MNIST to a directory holding "
                "the IDX files)");
  gzFile f = gzopen(path.c_str(), "rb");
  DIFFLAB_CHECK(f != nullptr, "cannot open '", path, "' with zlib");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      DIFFLAB_FAIL("cannot decompress '", path, "': ", msg);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  gzclose(f);
  return out;
}

uint32_t get_be32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("DIFFLAB_FASHION_MNIST");
  return env && *env ? std::string(env) : std::string("/usr/share/datasets/fashion-mnist");
}

bool fashion_mnist_available(const std::string& dir) {
  for (const char* f : kFiles)
    if (!file_exists(dir + "/" + f)) return false;
  return true;
}

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path) {
  const std::string im = read_gz(images_path), lb = read_gz(labels_path);
  DIFFLAB_CHECK(im.size() >= 16 && get_be32(im, 0) == 0x00000803, "'", images_path,
                "' is not an IDX image file (magic 0x00000803) or is truncated");
  DIFFLAB_CHECK(lb.size() >= 8 && get_be32(lb, 0) == 0x00000801, "'", labels_path,
                "' is not an IDX label file (magic 0x00000801) or is truncated");
  const int64_t n = get_be32(im, 4), rows = get_be32(im, 8), cols = get_be32(im, 12);
  const int64_t nl = get_be32(lb, 4);
  DIFFLAB_CHECK(n == nl, "IDX count mismatch: '", images_path, "' has ", n, " images, '",
                labels_path, "' has ", nl, " labels");
  DIFFLAB_CHECK(im.size() == size_t(16 + n * rows * cols), "'", images_path,
                "' is truncated or corrupt: ", im.size(), " bytes, expected ", 16 + n * rows * cols,
                " for ", n, " images of ", rows, "x", cols);
  DIFFLAB_CHECK(lb.size() == size_t(8 + n), "'", labels_path,
                "' is truncated or corrupt: ", lb.size(), " bytes, expected ", 8 + n);
  Tensor px = Tensor::empty({n, rows, cols}, DType::u8);
  std::memcpy(px.data<uint8_t>(), im.data() + 16, size_t(n * rows * cols));
  Tensor labels = Tensor::empty({n}, DType::i64);
  int64_t* l = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) l[i] = static_cast<unsigned char>(lb[size_t(8 + i)]);
  return {pixels_to_images(px), labels};
}

FashionMnistData load_fashion_mnist(const std::string& dir) {
  FashionMnistData d;
  d.train = read_idx_images(dir + "/" + kFiles[0], dir + "/" + kFiles[1]);
  d.test = read_idx_images(dir + "/" + kFiles[2], dir + "/" + kFiles[3]);
  class_counts(d.train.labels, FashionMnistData::num_classes);  // checks labels are 0..9
  class_counts(d.test.labels, FashionMnistData::num_classes);
  return d;
}

}  // namespace difflab::experiments
