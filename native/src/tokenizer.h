// RWKV World tokenizer: greedy longest match over raw bytes on a 256-ary trie.
// Token 0 is end-of-document and has no bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rwkvx {

class Tokenizer {
 public:
  // id → raw bytes; id 0 must be the end-of-document token (its bytes are ignored).
  // Empty entries (padding) are never produced by encode.
  void build(std::vector<std::string> token_bytes);
  // From GGUF `tokenizer.ggml.tokens` as llama.cpp writes them for rwkv: Python
  // bytes-literal escapes (\xNN, \n, \t, \r, \\, \', \") of the raw bytes;
  // "<s>" at id 0 and "[PADn]" entries become empty.
  void build_from_escaped(const std::vector<std::string>& escaped);
  // From a World vocabulary file (`<id> <python str or bytes literal> <len>`).
  void build_from_world_file(const std::string& path);

  std::vector<int32_t> encode(const char* data, size_t len) const;
  const std::string& bytes(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }
  int n_vocab() const { return static_cast<int>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> tokens_;
  // Trie: node 0 is the root, whose children are found through root_[byte]
  // (one 256-entry table in all). Every other node's children are a sorted run
  // of edges: edge_byte_/edge_node_[first_[n] .. first_[n] + count_[n]).
  // value_[n] is the token id ending at node n, or -1.
  std::vector<int32_t> root_;
  std::vector<uint32_t> first_;
  std::vector<uint16_t> count_;
  std::vector<int32_t> value_;
  std::vector<uint8_t> edge_byte_;
  std::vector<int32_t> edge_node_;
  int32_t child(int32_t node, uint8_t b) const;
};

// Parses the text of a World vocabulary file: id → raw bytes (index 0 and ids
// absent from the file are empty). `origin` names the file in error messages.
std::vector<std::string> parse_world_vocab(const std::string& text, const std::string& origin);

// Python bytes-literal escape used in GGUF token lists (repr(b)[2:-1]).
std::string escape_token_bytes(const std::string& raw);
std::string unescape_token_bytes(const std::string& escaped);

// Holds back bytes until they form complete UTF-8; invalid sequences become U+FFFD.
class Utf8Stream {
 public:
  std::string push(const std::string& bytes);
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace rwkvx
