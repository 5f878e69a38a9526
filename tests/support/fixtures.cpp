#include "tests/support/fixtures.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>

#include "tensor/shape.h"

namespace difflab::testing {

static_assert(std::endian::native == std::endian::little,
              "fixture files are little-endian; add byte swapping for this host");

namespace {

constexpr uint32_t kMaxNameLen = 4096;
constexpr uint32_t kMaxDims = 16;

// A cursor over the file's bytes; every read past the end names the file and what was read.
class Reader {
 public:
  Reader(const std::string& path, std::vector<char> bytes)
      : path_(path), bytes_(std::move(bytes)) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  size_t pos() const { return pos_; }

  void read(void* dst, size_t n, const char* what) {
    DIFFLAB_CHECK(n <= remaining(), "load_fixture: ", path_, " is truncated: reading ", what,
                  " needs ", n, " bytes at offset ", pos_, " but only ", remaining(),
                  " remain (file size ", bytes_.size(), ")");
    std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
  }
  template <typename T>
  T get(const char* what) {
    T v;
    read(&v, sizeof(T), what);
    return v;
  }

 private:
  const std::string& path_;
  std::vector<char> bytes_;
  size_t pos_ = 0;
};

tensor::DType decode_dtype(uint32_t code, const std::string& path, const std::string& name) {
  switch (code) {
    case 0:
      return tensor::DType::f32;
    case 1:
      return tensor::DType::f64;
    case 2:
      return tensor::DType::i64;
    default:
      DIFFLAB_FAIL("load_fixture: ", path, ": tensor '", name, "' has unknown dtype code ", code,
                   " (expected 0 = f32, 1 = f64, 2 = i64)");
  }
}

}  // namespace

const tensor::Tensor& Fixture::at(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    std::string known;
    for (const auto& [k, v] : tensors_) known += (known.empty() ? "" : ", ") + k;
    DIFFLAB_FAIL("fixture ", path_, ": no tensor named '", name, "' (it holds: ", known, ")");
  }
  return it->second;
}

std::vector<int64_t> Fixture::ints(const std::string& name) const {
  const tensor::Tensor& t = at(name);
  DIFFLAB_CHECK(t.dtype() == tensor::DType::i64, "fixture ", path_, ": '", name, "' is ", t.desc(),
                ", expected i64");
  return t.contiguous().to_vector<int64_t>();
}

int64_t Fixture::integer(const std::string& name) const {
  auto v = ints(name);
  DIFFLAB_CHECK(v.size() == 1, "fixture ", path_, ": '", name, "' has ", v.size(),
                " elements, expected 1");
  return v[0];
}

double Fixture::scalar(const std::string& name) const {
  const tensor::Tensor& t = at(name);
  DIFFLAB_CHECK(t.numel() == 1 && tensor::is_floating(t.dtype()), "fixture ", path_, ": '", name,
                "' is ", t.desc(), ", expected a single f32/f64 value");
  return t.item();
}

std::vector<std::string> Fixture::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

Fixture load_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DIFFLAB_CHECK(in.good(), "load_fixture: cannot open ", path,
                " (regenerate with /usr/bin/python3 tests/fixtures/make_fixtures.py)");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Reader r(path, std::move(bytes));

  const auto magic = r.get<uint32_t>("the magic number");
  DIFFLAB_CHECK(magic == kFixtureMagic, "load_fixture: ", path, " has bad magic 0x", std::hex,
                magic, " (expected 0x", kFixtureMagic, std::dec, "): not a difflab fixture file");
  const auto version = r.get<uint32_t>("the version");
  DIFFLAB_CHECK(version == kFixtureVersion, "load_fixture: ", path, " has format version ", version,
                ", this reader supports version ", kFixtureVersion);
  const auto count = r.get<uint32_t>("the tensor count");
  r.get<uint32_t>("the reserved header word");

  std::map<std::string, tensor::Tensor> tensors;
  for (uint32_t i = 0; i < count; ++i) {
    const auto name_len = r.get<uint32_t>("a name length");
    DIFFLAB_CHECK(name_len > 0 && name_len <= kMaxNameLen, "load_fixture: ", path, ": tensor ", i,
                  " has name length ", name_len, " at offset ", r.pos() - 4, " (corrupt file?)");
    std::string name(name_len, '\0');
    r.read(name.data(), name_len, "a tensor name");
    const std::string what = "tensor '" + name + "'";
    DIFFLAB_CHECK(!tensors.count(name), "load_fixture: ", path, ": duplicate ", what);
    const tensor::DType dtype = decode_dtype(r.get<uint32_t>(what.c_str()), path, name);
    const auto ndim = r.get<uint32_t>(what.c_str());
    DIFFLAB_CHECK(ndim <= kMaxDims, "load_fixture: ", path, ": ", what, " has ", ndim,
                  " dims (at most ", kMaxDims, ")");
    tensor::Shape shape(ndim);
    for (auto& d : shape) {
      d = r.get<int64_t>(what.c_str());
      DIFFLAB_CHECK(d >= 0, "load_fixture: ", path, ": ", what, " has negative dim ", d);
    }
    // Check the size against what is left before allocating (a corrupt dim could ask for TBs);
    // the running product stops growing past the bytes left, so it cannot overflow.
    const size_t elem = tensor::dtype_size(dtype), limit = r.remaining() / elem;
    size_t numel = 1;
    bool empty = false;
    for (int64_t d : shape) {
      if (d == 0)
        empty = true;
      else if (numel > limit / size_t(d))
        numel = limit + 1;  // saturate: too big anyway
      else
        numel *= size_t(d);
    }
    if (empty) numel = 0;
    DIFFLAB_CHECK(numel <= limit, "load_fixture: ", path, " is truncated: ", what, " ", dtype,
                  shape, " needs more than the ", r.remaining(), " bytes that remain");
    const size_t nbytes = numel * elem;
    tensor::Tensor t = tensor::Tensor::empty(shape, dtype);
    r.read(t.raw_data(), nbytes, what.c_str());
    tensors.emplace(name, std::move(t));
  }
  DIFFLAB_CHECK(r.remaining() == 0, "load_fixture: ", path, " has ", r.remaining(),
                " unexpected bytes after its ", count, " tensors");
  return Fixture(path, std::move(tensors));
}

std::string fixture_path(const std::string& file) {
  return std::string(DIFFLAB_SOURCE_DIR) + "/tests/fixtures/" + file;
}

}  // namespace difflab::testing
