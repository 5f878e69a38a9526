// Reader for the PyTorch reference fixtures written by tests/fixtures/make_fixtures.py (the
// format is documented at the top of that script): a magic number and a version, then named
// f32/f64/i64 tensors. Every failure throws difflab::Error naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::testing {

inline constexpr uint32_t kFixtureMagic = 0x58464C44;  // "DLFX" little-endian
inline constexpr uint32_t kFixtureVersion = 1;

class Fixture {
 public:
  Fixture(std::string path, std::map<std::string, tensor::Tensor> tensors)
      : path_(std::move(path)), tensors_(std::move(tensors)) {}

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor stored under `name`; throws naming the file and the key when absent.
  const tensor::Tensor& at(const std::string& name) const;
  // An integer setting stored as an i64 tensor (e.g. "cfg0.stride") as a vector.
  std::vector<int64_t> ints(const std::string& name) const;
  int64_t integer(const std::string& name) const;  // a single-element i64 tensor
  double scalar(const std::string& name) const;    // a single-element f32/f64 tensor
  std::vector<std::string> names() const;

 private:
  std::string path_;
  std::map<std::string, tensor::Tensor> tensors_;
};

// Reads a whole fixture file; checks magic, version, dtypes and sizes, and that nothing is
// missing or left over.
Fixture load_fixture(const std::string& path);
// DIFFLAB_SOURCE_DIR/tests/fixtures/<file>.
std::string fixture_path(const std::string& file);

}  // namespace difflab::testing
