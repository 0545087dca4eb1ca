#include "data/synth.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/rng.hpp"

namespace lyre::data {
namespace {

// ---------------------------------------------------------------------------
// Vocabulary and genres
// ---------------------------------------------------------------------------

// Real English words, most frequent first (all of them are in the shipped
// GloVe subset, so the demo exercises GloVe initialization).
constexpr std::string_view kWords[] = {
#include "data/synth_words.inc"
};
constexpr std::size_t kCommonWords = 300;  // ranks 0..299: every genre draws on them
constexpr std::size_t kSignatureWords = 40;
constexpr std::size_t kSharedWords = 15;  // per family of related genres

// Related genres share part of their signature, so that they are the pairs a
// model confuses, as in the real data.
enum Family { kNoFamily = -1, kRockFamily, kRapFamily, kRomanticFamily, kPopFamily, kFamilies };

struct GenreSpec {
  std::string_view name;
  double weight;  // share of the songs; the last two are small so top-10 drops them
  int family;
};

constexpr GenreSpec kGenres[] = {
    {"Rock", 17.0, kRockFamily},         {"Pop", 14.0, kPopFamily},
    {"Hip Hop", 12.0, kRapFamily},       {"Heavy Metal", 10.5, kRockFamily},
    {"Indie", 9.5, kPopFamily},          {"Pop/Rock", 8.5, kRockFamily},
    {"Romântico", 8.0, kRomanticFamily}, {"Gospel/Religioso", 7.5, kRomanticFamily},
    {"Sertanejo", 7.0, kNoFamily},       {"Rap", 6.5, kRapFamily},
    {"Reggae", 3.0, kNoFamily},          {"Axé", 2.5, kNoFamily},
};
constexpr std::size_t kGenreCount = std::size(kGenres);

static_assert(std::size(kWords) >=
                  kCommonWords + kFamilies * kSharedWords + kGenreCount * kSignatureWords,
              "data/synth_words.inc is too short for the signature vocabularies");

// Common English stopwords (every one is in NLTK's list, so cleaning drops them).
constexpr std::string_view kStopwords[] = {
    "i",    "you",    "the",  "a",    "to",    "and",  "me",  "my",    "it",    "in",
    "of",   "is",     "on",   "that", "be",    "your", "we",  "all",   "for",   "so",
    "this", "but",    "with", "just", "can",   "will", "no",  "don't", "when",  "what",
    "now",  "up",     "down", "out",  "there", "they", "she", "he",    "her",   "his",
    "was",  "are",    "been", "have", "do",    "not",  "too", "again", "where", "won't",
    "it's", "you're", "our",  "from", "how",   "an",   "at",  "by",    "if",    "or",
};

// Pseudo-Portuguese and pseudo-Spanish: words made of syllables, with the
// accented letters those languages use. Only the language filter sees them.
constexpr std::string_view kPortugueseSyllables[] = {
    "ção", "não", "co",  "ra",  "vo",  "cê", "sau", "da",  "de",  "mi", "nha", "vi", "ca", "nho",
    "lu",  "ar",  "pai", "xão", "cla", "ri", "são", "mãe", "bra", "ço", "lhe", "to", "mo", "ré"};
constexpr std::string_view kPortugueseShort[] = {
    "o", "a", "de", "que", "e", "do", "da", "em", "um", "para", "com", "não", "eu", "você", "meu"};
constexpr std::string_view kSpanishSyllables[] = {
    "co",  "ra", "zón", "qui", "ro",  "can", "ción", "ma",  "ña", "na", "ti",  "ya", "llo", "ver",
    "dad", "ci", "lo",  "mo",  "lás", "bai", "le",   "cie", "mí", "go", "sue", "ño", "vi",  "da"};
constexpr std::string_view kSpanishShort[] = {"el", "la",  "de",  "que", "y",  "en", "un", "se",
                                              "no", "por", "con", "mi",  "yo", "tú", "me"};

constexpr std::string_view kJunk[] = {"♪", "★", "🎸", "!!!", "...", "--", "♪♪", "(x2)"};
constexpr std::string_view kUrls[] = {"http://www.vagalume.com.br",
                                      "https://youtu.be/dQw4w9WgXcQ",
                                      "www.letras.mus.br",
                                      "http://lyrics.example.com/song?id=42",
                                      "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
                                      "WWW.MYSPACE.COM/band"};

constexpr std::string_view kFirstNames[] = {"John", "Mary", "Zé",   "Ana",  "Luke", "Nina",
                                            "Carl", "Rosa", "Jack", "Lucy", "João", "Márcia",
                                            "Pete", "Joan", "Otis", "Ivy"};
constexpr std::string_view kLastNames[] = {"Smith", "Lima",    "Brown", "Costa", "Reed",  "Gomes",
                                           "Stone", "Souza",   "Kane",  "Silva", "Young", "Araújo",
                                           "Fox",   "Moreira", "Cole",  "Nunes"};

// ---------------------------------------------------------------------------
// Sampling helpers
// ---------------------------------------------------------------------------

// Draws an index in proportion to fixed weights.
class WeightedPicker {
 public:
  explicit WeightedPicker(const std::vector<double>& weights) {
    double total = 0.0;
    for (const double w : weights) cdf_.push_back(total += w);
  }
  std::size_t draw(Rng& rng) const {
    const double u = rng.uniform() * cdf_.back();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

// Zipf-like ranks: rank r drawn in proportion to 1 / (r + 1)^exponent.
WeightedPicker zipf(std::size_t n, double exponent) {
  std::vector<double> weights(n);
  for (std::size_t r = 0; r < n; ++r)
    weights[r] = 1.0 / std::pow(static_cast<double>(r + 1), exponent);
  return WeightedPicker(weights);
}

template <typename T, std::size_t N>
const T& pick(Rng& rng, const T (&items)[N]) {
  return items[rng.below(N)];
}

bool chance(Rng& rng, double p) { return rng.uniform() < p; }

std::vector<double> genre_weights() {
  std::vector<double> weights;
  for (const GenreSpec& g : kGenres) weights.push_back(g.weight);
  return weights;
}

// Each genre's 40 signature words: kSharedWords shared with its family, the
// rest its own, interleaved (3 slots in 8 shared) so that both kinds reach the
// frequent ranks while the most frequent one stays the genre's own.
std::vector<std::vector<std::string_view>> build_signatures() {
  std::size_t next = kCommonWords;
  std::array<std::vector<std::string_view>, kFamilies> shared;
  for (auto& family : shared)
    for (std::size_t i = 0; i < kSharedWords; ++i) family.push_back(kWords[next++]);

  std::vector<std::vector<std::string_view>> signatures;
  for (const GenreSpec& genre : kGenres) {
    std::vector<std::string_view> words;
    std::size_t shared_used = 0;
    for (std::size_t i = 0; i < kSignatureWords; ++i) {
      const std::size_t slot = i % 8;
      const bool shared_slot = genre.family != kNoFamily && (slot == 1 || slot == 4 || slot == 6) &&
                               shared_used < kSharedWords;
      if (shared_slot) {
        words.push_back(shared[static_cast<std::size_t>(genre.family)][shared_used++]);
      } else {
        words.push_back(kWords[next++]);
      }
    }
    signatures.push_back(std::move(words));
  }
  return signatures;
}

// ---------------------------------------------------------------------------
// CSV output
// ---------------------------------------------------------------------------

void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\n\r") == std::string_view::npos) {
    out += field;
    return;
  }
  out.push_back('"');
  for (const char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_csv_row(std::string& out, std::initializer_list<std::string_view> fields) {
  bool first = true;
  for (const std::string_view field : fields) {
    if (!first) out.push_back(',');
    first = false;
    append_csv_field(out, field);
  }
  out.push_back('\n');
}

// ASCII base letters of U+00C0..U+00FF (two-byte UTF-8 sequences C3 80..C3 BF);
// '-' for the two symbols among them.
constexpr std::string_view kLatin1Base =
    "aaaaaaaceeeeiiiidnooooo-ouuuuytsaaaaaaaceeeeiiiidnooooo-ouuuuyty";
static_assert(kLatin1Base.size() == 64);

// "João Araújo" -> "joao-araujo", as vagalume.com.br builds its links.
std::string slugify(std::string_view name) {
  std::string slug;
  const auto separator = [&] {
    if (!slug.empty() && slug.back() != '-') slug.push_back('-');
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto u = static_cast<unsigned char>(name[i]);
    if (u == 0xC3 && i + 1 < name.size()) {
      const auto next = static_cast<unsigned char>(name[++i]);
      const char base = next >= 0x80 && next <= 0xBF ? kLatin1Base[next - 0x80] : '-';
      if (base == '-')
        separator();
      else
        slug.push_back(base);
    } else if (u < 0x80 && std::isalnum(u)) {
      slug.push_back(static_cast<char>(std::tolower(u)));
    } else {
      separator();
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? std::string("x") : slug;
}

std::string capitalized(std::string_view word) {
  std::string out(word);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// ---------------------------------------------------------------------------
// The corpus writer
// ---------------------------------------------------------------------------

struct SynthArtist {
  std::string name;
  std::string link;                 // "/slug/"
  std::vector<std::size_t> genres;  // indices into kGenres, first = primary
  double weight = 1.0;              // share of its primary genre's songs
  std::string popularity;           // "4.4"
  std::uint64_t songs = 0;          // lyric rows written for it
};

// A row already written, kept so that a later row can repeat it verbatim.
struct WrittenRow {
  std::string csv;
  std::size_t artist = 0;  // kNoArtist for an unjoined row
  bool english = false;
};

constexpr std::size_t kNoArtist = static_cast<std::size_t>(-1);
constexpr std::size_t kRecentRows = 256;

class SynthWriter {
 public:
  explicit SynthWriter(const SynthOptions& options)
      : options_(options),
        rng_(derive_seed(options.seed, 0x5717)),
        signatures_(build_signatures()),
        common_(zipf(kCommonWords, 0.6)),
        signature_rank_(zipf(kSignatureWords, 0.7)),
        stopword_(zipf(std::size(kStopwords), 0.7)),
        genre_picker_(genre_weights()) {}

  SynthResult write(const std::filesystem::path& out_dir) {
    SynthResult result;
    result.artists_csv = out_dir / "artists-data.csv";
    result.lyrics_csv = out_dir / "lyrics-data.csv";
    make_artists();
    result.english_rows = write_lyrics(result.lyrics_csv);
    write_artists(result.artists_csv);
    result.artists = artists_.size();
    result.lyric_rows = static_cast<std::uint64_t>(options_.songs);
    return result;
  }

 private:
  // About 60 songs an artist, every genre with at least a few artists.
  void make_artists() {
    const std::size_t count =
        std::max<std::size_t>(3 * kGenreCount, static_cast<std::size_t>(options_.songs / 60));
    std::unordered_set<std::string> links;
    for (std::size_t i = 0; i < count; ++i) {
      SynthArtist artist;
      artist.name = artist_name();
      std::string slug = slugify(artist.name);
      for (int n = 2; !links.insert(slug).second; ++n)
        slug = fmt::format("{}-{}", slugify(artist.name), n);
      artist.link = "/" + slug + "/";
      const std::size_t primary = i < kGenreCount ? i : genre_picker_.draw(rng_);
      artist.genres = genres_for(primary);
      artist.weight = std::exp(0.8 * rng_.normal());
      artist.popularity =
          fmt::format("{:.1f}", std::min(30.0, 0.5 * std::exp(1.2 * rng_.normal())));
      artists_.push_back(std::move(artist));
    }
    by_genre_.assign(kGenreCount, {});
    std::vector<std::vector<double>> weights(kGenreCount);
    for (std::size_t a = 0; a < artists_.size(); ++a) {
      by_genre_[artists_[a].genres.front()].push_back(a);
      weights[artists_[a].genres.front()].push_back(artists_[a].weight);
    }
    for (auto& w : weights) artist_pickers_.emplace_back(w);
  }

  // ~40% of artists list 2-3 genres, mostly from their family.
  std::vector<std::size_t> genres_for(std::size_t primary) {
    std::vector<std::size_t> genres{primary};
    if (!chance(rng_, 0.4)) return genres;
    const std::size_t extra = chance(rng_, 0.7) ? 1 : 2;
    while (genres.size() < 1 + extra) {
      std::size_t candidate = genre_picker_.draw(rng_);
      if (kGenres[primary].family != kNoFamily && chance(rng_, 0.6)) {
        const std::size_t relative = rng_.below(kGenreCount);
        if (kGenres[relative].family == kGenres[primary].family) candidate = relative;
      }
      if (std::find(genres.begin(), genres.end(), candidate) == genres.end())
        genres.push_back(candidate);
    }
    return genres;
  }

  std::string artist_name() {
    const auto word = [&] { return capitalized(kWords[rng_.below(kCommonWords)]); };
    const double u = rng_.uniform();
    if (u < 0.03) return fmt::format("{}, {} and {}", word(), word(), word());
    if (u < 0.05)
      return fmt::format("{} \"{}\" {}", pick(rng_, kFirstNames), word(), pick(rng_, kLastNames));
    if (u < 0.35) return fmt::format("{} {}", pick(rng_, kFirstNames), pick(rng_, kLastNames));
    if (u < 0.65) return fmt::format("The {} {}", word(), word());
    return fmt::format("{} {}", word(), word());
  }

  std::string song_name() {
    const std::size_t words = 1 + rng_.below(4);
    std::string name;
    for (std::size_t i = 0; i < words; ++i) {
      if (i) name += ' ';
      name += capitalized(kWords[common_.draw(rng_)]);
    }
    const double u = rng_.uniform();
    if (u < 0.03)
      name += ", " + capitalized(kWords[common_.draw(rng_)]);
    else if (u < 0.05)
      name = "\"" + name + "\" (Live)";
    return name;
  }

  // Streams the lyric rows; returns how many are English.
  std::uint64_t write_lyrics(const std::filesystem::path& path) {
    AtomicFile file(path);
    std::string row;
    append_csv_row(row, {"ALink", "SName", "SLink", "Lyric", "language"});
    file.write(row);
    std::vector<WrittenRow> recent;
    std::uint64_t english = 0;
    for (std::int64_t i = 0; i < options_.songs; ++i) {
      WrittenRow written;
      if (!recent.empty() && chance(rng_, 0.03)) {
        written = recent[rng_.below(recent.size())];  // an exact duplicate
      } else {
        written = make_row();
      }
      if (written.artist != kNoArtist) ++artists_[written.artist].songs;
      if (written.english) ++english;
      file.write(written.csv);
      if (recent.size() < kRecentRows) {
        recent.push_back(std::move(written));
      } else {
        recent[rng_.below(kRecentRows)] = std::move(written);
      }
    }
    file.commit();
    return english;
  }

  WrittenRow make_row() {
    WrittenRow row;
    const std::size_t genre = genre_picker_.draw(rng_);
    std::string link;
    if (chance(rng_, 0.01)) {
      row.artist = kNoArtist;  // its artist is missing from artists-data.csv
      // '_' never occurs in a slug, so no artist can have this link.
      link = fmt::format("/lost_artist_{}/", rng_.below(1000));
    } else {
      row.artist = by_genre_[genre][artist_pickers_[genre].draw(rng_)];
      link = artists_[row.artist].link;
    }
    const double language = rng_.uniform();
    const std::string_view code = language < 0.75 ? "en" : language < 0.95 ? "pt" : "es";
    row.english = code == "en";

    lyric_.clear();
    const double kind = rng_.uniform();
    if (kind < 0.01) {
      // empty lyric
    } else if (kind < 0.015) {
      stopword_lyric();
    } else if (row.english) {
      english_lyric(genre);
    } else {
      foreign_lyric(code == "pt");
    }

    const std::string name = song_name();
    const std::string slink = link + slugify(name) + ".html";
    append_csv_row(row.csv, {link, name, slink, lyric_, code});
    return row;
  }

  // ----- lyrics ------------------------------------------------------------

  // 4..40 lines in stanzas of 2..6, often with a repeated chorus.
  void english_lyric(std::size_t genre) {
    const std::size_t total_lines = 4 + rng_.below(37);
    const bool has_url = chance(rng_, 0.05);
    const bool has_junk = chance(rng_, 0.10);
    const bool has_quotes = chance(rng_, 0.08);
    std::string chorus;
    if (chance(rng_, 0.4)) {
      const std::size_t lines = 2 + rng_.below(3);
      for (std::size_t l = 0; l < lines; ++l) {
        if (l) chorus += '\n';
        english_line(chorus, genre, has_junk, has_quotes);
      }
    }
    std::size_t lines_written = 0;
    bool chorus_next = false;
    while (lines_written < total_lines) {
      if (lines_written) lyric_ += "\n\n";
      if (chorus_next && !chorus.empty() && lines_written + 2 <= total_lines) {
        lyric_ += chorus;
        lines_written +=
            static_cast<std::size_t>(std::count(chorus.begin(), chorus.end(), '\n')) + 1;
      } else {
        const std::size_t lines =
            std::min<std::size_t>(2 + rng_.below(5), total_lines - lines_written);
        for (std::size_t l = 0; l < lines; ++l) {
          if (l) lyric_ += '\n';
          english_line(lyric_, genre, has_junk, has_quotes);
        }
        lines_written += lines;
      }
      chorus_next = !chorus_next;
    }
    if (has_url) {
      lyric_ += chance(rng_, 0.5) ? "\n\n" : " ";
      lyric_ += pick(rng_, kUrls);
    }
  }

  void english_line(std::string& out, std::size_t genre, bool junk, bool quotes) {
    const std::size_t words = 3 + rng_.below(6);
    const bool quoted = quotes && chance(rng_, 0.3);
    if (quoted) out += '"';
    for (std::size_t w = 0; w < words; ++w) {
      if (w) out += (chance(rng_, 0.06) ? ", " : " ");
      const std::string_view word = english_word(genre);
      if (w == 0) {
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        out += word.substr(1);
      } else {
        out += word;
      }
      if (junk && chance(rng_, 0.05)) {
        out += ' ';
        out += pick(rng_, kJunk);
      }
    }
    if (quoted) out += '"';
    const double end = rng_.uniform();
    if (end < 0.2)
      out += ',';
    else if (end < 0.25)
      out += '!';
    else if (end < 0.3)
      out += '?';
  }

  // ~35% stopwords, ~15% genre signature (a quarter of it borrowed from other
  // genres, so that no single word decides), the rest common words.
  std::string_view english_word(std::size_t genre) {
    const double u = rng_.uniform();
    if (u < 0.35) return kStopwords[stopword_.draw(rng_)];
    if (u < 0.50) {
      const std::size_t source = chance(rng_, 0.25) ? rng_.below(kGenreCount) : genre;
      return signatures_[source][signature_rank_.draw(rng_)];
    }
    return kWords[common_.draw(rng_)];
  }

  void stopword_lyric() {
    const std::size_t lines = 1 + rng_.below(4);
    for (std::size_t l = 0; l < lines; ++l) {
      if (l) lyric_ += '\n';
      const std::size_t words = 2 + rng_.below(5);
      for (std::size_t w = 0; w < words; ++w) {
        if (w) lyric_ += ' ';
        lyric_ += kStopwords[stopword_.draw(rng_)];
      }
      lyric_ += chance(rng_, 0.5) ? "!!!" : "...";
    }
  }

  void foreign_lyric(bool portuguese) {
    const std::size_t lines = 4 + rng_.below(25);
    for (std::size_t l = 0; l < lines; ++l) {
      if (l) lyric_ += (l % 4 == 0 ? "\n\n" : "\n");
      const std::size_t words = 3 + rng_.below(6);
      for (std::size_t w = 0; w < words; ++w) {
        if (w) lyric_ += ' ';
        if (chance(rng_, 0.4)) {
          lyric_ += portuguese ? pick(rng_, kPortugueseShort) : pick(rng_, kSpanishShort);
          continue;
        }
        const std::size_t syllables = 2 + rng_.below(2);
        for (std::size_t s = 0; s < syllables; ++s)
          lyric_ += portuguese ? pick(rng_, kPortugueseSyllables) : pick(rng_, kSpanishSyllables);
      }
    }
  }

  // ----- artists -----------------------------------------------------------

  void write_artists(const std::filesystem::path& path) {
    AtomicFile file(path);
    std::string out;
    append_csv_row(out, {"Artist", "Genres", "Songs", "Popularity", "Link"});
    const std::size_t na_row = artists_.size() / 3;  // the real file has one all-NA row
    for (std::size_t a = 0; a < artists_.size(); ++a) {
      if (a == na_row) append_csv_row(out, {"NA", "NA", "NA", "NA", "NA"});
      const SynthArtist& artist = artists_[a];
      std::string genres;
      for (const std::size_t g : artist.genres) {
        if (!genres.empty()) genres += "; ";
        genres += kGenres[g].name;
      }
      append_csv_row(
          out, {artist.name, genres, std::to_string(artist.songs), artist.popularity, artist.link});
    }
    file.write(out);
    file.commit();
  }

  SynthOptions options_;
  Rng rng_;
  std::vector<std::vector<std::string_view>> signatures_;
  WeightedPicker common_;
  WeightedPicker signature_rank_;
  WeightedPicker stopword_;
  WeightedPicker genre_picker_;
  std::vector<SynthArtist> artists_;
  std::vector<std::vector<std::size_t>> by_genre_;  // artists by primary genre
  std::vector<WeightedPicker> artist_pickers_;      // per genre, over by_genre_
  std::string lyric_;
};

}  // namespace

SynthResult write_synthetic_kaggle(const std::filesystem::path& out_dir,
                                   const SynthOptions& options) {
  if (options.songs < 1) fail_input("data.synthetic.songs: must be >= 1, got {}", options.songs);
  ensure_directory(out_dir);
  return SynthWriter(options).write(out_dir);
}

}  // namespace lyre::data
