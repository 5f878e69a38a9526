// safetensors files: round trips of every dtype (0-d and empty tensors included) with metadata,
// the exact byte layout of a tiny file, every corruption case named in its error message, the
// atomic write, and Module save/load by state_dict names.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "nn/safetensors.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using difflab::testing::message_has;
using nn::Tensor;
using tensor::DType;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  fs::path dir;
  TempDir() {
    static int counter = 0;
    dir = fs::temp_directory_path() / ("difflab_nn_safetensors_" + std::to_string(::getpid()) +
                                       "_" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A file made of a header size field, the given JSON header and data bytes.
std::string file_bytes(const std::string& header, const std::string& data,
                       int64_t size_field = -1) {
  uint64_t n = size_field < 0 ? header.size() : uint64_t(size_field);
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

class TwoLayer : public nn::Module {
 public:
  explicit TwoLayer(int64_t hidden) {
    tensor::Generator g(3);
    register_parameter("weight", tensor::randn({hidden, 3}, DType::f32, &g));
    register_parameter("bias", tensor::zeros({hidden}));
    register_buffer("scale", tensor::full({1}, 2.0));
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_all_dtypes_with_metadata) {
  TempDir tmp;
  tensor::Generator g(1);
  std::map<std::string, Tensor> tensors = {
      {"f32.matrix", tensor::randn({2, 3}, DType::f32, &g)},
      {"f64.vector", tensor::randn({4}, DType::f64, &g)},
      {"i64.scalar", tensor::from_vector<int64_t>({-1234567890123}, {})},
      {"u8.bytes", tensor::from_vector<uint8_t>({0, 7, 255}, {3})},
      {"empty.f32", tensor::zeros({0})},
      {"empty.u8", Tensor::empty({3, 0}, DType::u8)},
      {"zero_d.f64", tensor::scalar_tensor(-0.5, DType::f64)},
      // A non-contiguous view is written as its contiguous values.
      {"view.t", tensor::randn({3, 2}, DType::f32, &g).transpose(0, 1)},
  };
  nn::Metadata meta = {{"config", R"({"channels": [32, 64], "name": "unet"})"},
                       {"note", "ünïcode, \"quotes\" and \\ backslashes"}};
  const std::string path = tmp.path("model.safetensors");
  nn::save_safetensors(path, tensors, meta);
  nn::SafeTensors back = nn::load_safetensors(path);
  BOOST_TEST(back.metadata == meta);
  BOOST_REQUIRE_EQUAL(back.tensors.size(), tensors.size());
  for (auto& [k, t] : tensors) {
    BOOST_TEST_CONTEXT("tensor " << k) {
      BOOST_REQUIRE(back.tensors.count(k));
      BOOST_TEST(same_bits(back.tensors.at(k), t));
      BOOST_TEST(back.tensors.at(k).is_contiguous());
    }
  }
  // No metadata: the header has no __metadata__ entry and still loads.
  nn::save_safetensors(path, {{"x", tensor::ones({2})}});
  BOOST_TEST(read_bytes(path).find("__metadata__") == std::string::npos);
  BOOST_TEST(nn::load_safetensors(path).metadata.empty());
  // No tensors at all.
  nn::save_safetensors(path, {}, {{"only", "metadata"}});
  BOOST_TEST(nn::load_safetensors(path).tensors.empty());
}

BOOST_AUTO_TEST_CASE(exact_bytes_of_a_tiny_file) {
  std::map<std::string, Tensor> tensors = {
      {"a", tensor::from_vector<uint8_t>({1, 2}, {2})},
      {"b", tensor::from_vector<float>({1.5f}, {})},
  };
  const std::string got = nn::encode_safetensors(tensors, {{"k", "v"}});
  // 130 bytes of JSON (keys sorted, compact) + 6 spaces = 136 = 0x88; then "a" (2 bytes) and
  // "b" (1.5f = 0x3fc00000, little-endian) back to back in name order.
  std::string expect("\x88\0\0\0\0\0\0\0", 8);
  expect += R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[0,2],"dtype":"U8","shape":[2]},)"
            R"("b":{"data_offsets":[2,6],"dtype":"F32","shape":[]}})";
  expect += "      ";
  expect += std::string("\x01\x02\x00\x00\xc0\x3f", 6);
  BOOST_TEST(got.size() == expect.size());
  BOOST_TEST(got == expect);
  BOOST_TEST((got.size() - 8 - 6) % 8 == 0);  // the data section starts 8-byte aligned
  // And it decodes to the same tensors.
  nn::SafeTensors back = nn::decode_safetensors(expect, "inline");
  BOOST_TEST(back.tensors.at("a").to_vector<uint8_t>() == std::vector<uint8_t>({1, 2}));
  BOOST_TEST(back.tensors.at("b").item() == 1.5);
  BOOST_TEST(back.tensors.at("b").dim() == 0);
}

BOOST_AUTO_TEST_CASE(corrupt_files_are_refused_naming_file_and_key) {
  TempDir tmp;
  const std::string path = tmp.path("bad.safetensors");
  auto load_fails = [&](const std::string& bytes, std::initializer_list<const char*> parts) {
    write_bytes(path, bytes);
    BOOST_CHECK_EXCEPTION(nn::load_safetensors(path), Error, [&](const Error& e) {
      return message_has(e, {"bad.safetensors"}) && message_has(e, parts);
    });
  };
  const std::string ok_x = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\x11');
  // The well-formed base case loads, so each failure below is due to its one change.
  write_bytes(path, file_bytes(ok_x, eight));
  BOOST_TEST(nn::load_safetensors(path).tensors.at("x").numel() == 2);

  BOOST_CHECK_EXCEPTION(nn::load_safetensors(tmp.path("missing.safetensors")), Error,
                        [](const Error& e) {
                          return message_has(e, {"cannot open", "missing.safetensors"});
                        });
  load_fails(std::string("\x05\0\0\0\0", 5),
             {"has 5 bytes, fewer than the 8-byte header size field"});
  load_fails(file_bytes(ok_x, eight, 1000), {"header size 1000 exceeds the", "bytes after"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32",)", ""), {"header is not valid JSON"});
  load_fails(file_bytes("[1, 2]", ""), {"header is not a JSON object"});
  load_fails(file_bytes(R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
                        std::string(4, '\0')),
             {"tensor 'x'", "unsupported dtype 'BF16'"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[2]}})", eight),
             {"tensor 'x'", "no \"data_offsets\" field"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
             {"tensor 'x'", "not a non-negative integer"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
             {"tensor 'x'", "data_offsets [0, 16] out of range for the 8-byte data section"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight),
             {"tensor 'x'", "out of range"});
  load_fails(file_bytes(R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight),
             {"tensor 'x'", "has 8 bytes", "shape [2] x F64 needs 16"});
  // A shape whose byte count overflows 64 bits must not wrap around to a small number.
  load_fails(file_bytes(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],)"
                        R"("data_offsets":[0,8]}})",
                        eight),
             {"tensor 'x'", "needs more than 2^64"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        eight),
             {"tensors 'x' and 'y' overlap"});
  load_fails(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
             {"4 unused bytes before tensor 'x'"});
  load_fails(file_bytes(ok_x, eight + "garbage"), {"7 trailing bytes after the last tensor"});
  load_fails(file_bytes(R"({"__metadata__":{"k":3}})", ""), {"metadata 'k' is not a string"});
}

BOOST_AUTO_TEST_CASE(save_refuses_bad_names_and_tensors) {
  TempDir tmp;
  const std::string path = tmp.path("x.safetensors");
  BOOST_CHECK_EXCEPTION(nn::save_safetensors(path, {{"__metadata__", tensor::ones({1})}}), Error,
                        [](const Error& e) {
                          return message_has(e, {"'__metadata__' is reserved", "x.safetensors"});
                        });
  BOOST_CHECK_EXCEPTION(nn::save_safetensors(path, {{"w", Tensor()}}), Error,
                        [](const Error& e) { return message_has(e, {"tensor 'w' is undefined"}); });
  BOOST_CHECK_EXCEPTION(nn::save_safetensors(path, {{"bad\xff", tensor::ones({1})}}), Error,
                        [](const Error& e) { return message_has(e, {"not valid UTF-8"}); });
  BOOST_TEST(tmp.listing().empty());  // nothing was written
}

BOOST_AUTO_TEST_CASE(atomic_write_leaves_no_temporary_file) {
  TempDir tmp;
  // Missing parent directories are created.
  const std::string path = tmp.path("run/checkpoints/step_10.safetensors");
  nn::save_safetensors(path, {{"w", tensor::ones({4})}}, {{"step", "10"}});
  nn::save_safetensors(path, {{"w", tensor::zeros({4})}}, {{"step", "20"}});  // overwrite
  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(tmp.dir))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), tmp.dir).string());
  BOOST_TEST(files == std::vector<std::string>({"run/checkpoints/step_10.safetensors"}));
  BOOST_TEST(nn::load_safetensors(path).metadata.at("step") == "20");
  // A rename that fails (the target is a directory) removes the temporary file it wrote.
  const std::string dir_target = tmp.path("run/checkpoints/is_a_dir");
  fs::create_directories(dir_target);
  BOOST_CHECK_EXCEPTION(nn::save_safetensors(dir_target, {{"w", tensor::ones({4})}}), Error,
                        [](const Error& e) {
                          return message_has(e, {"cannot write", "is_a_dir"});
                        });
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(tmp.path("run/checkpoints")))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  BOOST_TEST(left == std::vector<std::string>({"is_a_dir", "step_10.safetensors"}));
}

BOOST_AUTO_TEST_CASE(module_save_and_load_by_state_dict_names) {
  TempDir tmp;
  const std::string path = tmp.path("m.safetensors");
  TwoLayer a(4), b(4);
  tensor::Generator g(9);
  b.state_dict().at("weight").copy_(tensor::randn({4, 3}, DType::f32, &g));
  nn::save_module(path, a, {{"arch", "two_layer"}});
  auto names = nn::load_safetensors(path).tensors;
  BOOST_TEST(names.size() == 3u);
  BOOST_TEST(names.count("weight") + names.count("bias") + names.count("scale") == 3u);
  nn::Metadata meta = nn::load_module(path, b);
  BOOST_TEST(meta.at("arch") == "two_layer");
  for (auto& [k, t] : a.state_dict()) BOOST_TEST(same_bits(b.state_dict().at(k), t));

  TwoLayer wrong(5);
  BOOST_CHECK_EXCEPTION(nn::load_module(path, wrong), Error, [](const Error& e) {
    // The first mismatching key in name order.
    return message_has(e, {"load_module", "m.safetensors", "key 'bias'", "[4]", "[5]"});
  });
  nn::save_safetensors(path, {{"weight", tensor::ones({4, 3})}});
  BOOST_CHECK_EXCEPTION(nn::load_module(path, b), Error, [](const Error& e) {
    return message_has(e, {"m.safetensors", "missing keys", "'bias'", "'scale'"});
  });
}
