#include "data/corpus.hpp"

#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <unordered_set>

#include "data/csv_reader.hpp"
#include "engine/core/error.hpp"
#include "engine/core/hash.hpp"
#include "engine/core/rng.hpp"
#include "engine/core/strings.hpp"

namespace lyre::data {
namespace {

constexpr std::uint64_t kProgressStepBytes = std::uint64_t{1} << 20;
constexpr std::uint64_t kFinalShuffleStream = 0x5e1ec7;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Genre names interned to dense ids, and each artist's list of genre ids.
struct ArtistTable {
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> by_link;
  std::vector<std::vector<std::uint32_t>> genres;  // per artist, listed order, no repeats
  std::vector<std::string> genre_names;            // genre id -> name
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> genre_ids;

  std::uint32_t genre_id(const std::string& name) {
    const auto [it, added] =
        genre_ids.try_emplace(name, static_cast<std::uint32_t>(genre_names.size()));
    if (added) genre_names.push_back(name);
    return it->second;
  }
};

ArtistTable read_artists(const std::filesystem::path& path, CorpusCounts& counts) {
  CsvReader reader(path);
  const std::size_t link_column = reader.column("Link");
  const std::size_t genres_column = reader.column("Genres");
  ArtistTable table;
  std::vector<std::string_view> fields;
  while (reader.next(fields)) {
    ++counts.artist_rows;
    const std::string_view link = trim(fields[link_column]);
    if (link.empty() || link == "NA") {
      ++counts.artists_without_link;
      continue;
    }
    if (table.by_link.contains(link)) {
      ++counts.duplicate_links;
      continue;
    }
    std::vector<std::uint32_t> ids;
    for (const std::string& name : split_genres(fields[genres_column])) {
      const std::uint32_t id = table.genre_id(name);
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
    table.by_link.emplace(std::string(link), static_cast<std::uint32_t>(table.genres.size()));
    table.genres.push_back(std::move(ids));
  }
  return table;
}

// The artists and genres that have songs at one stage, counted at the end.
class StageTracker {
 public:
  explicit StageTracker(std::size_t artists) : has_song_(artists, false) {}
  void add(std::uint32_t artist) {
    has_song_[artist] = true;
    ++songs_;
  }
  StageCount count(const ArtistTable& table) const {
    StageCount c;
    c.songs = songs_;
    std::vector<bool> genre_seen(table.genre_names.size(), false);
    for (std::size_t a = 0; a < has_song_.size(); ++a) {
      if (!has_song_[a]) continue;
      ++c.artists;
      for (const std::uint32_t g : table.genres[a]) {
        if (!genre_seen[g]) ++c.genres;
        genre_seen[g] = true;
      }
    }
    return c;
  }

 private:
  std::vector<bool> has_song_;
  std::uint64_t songs_ = 0;
};

// Remembers what was seen, by a 128-bit XXH3 digest: with 2^-128 odds per
// pair a collision among a few million rows is not a practical concern.
class DuplicateFilter {
 public:
  explicit DuplicateFilter(Dedupe mode) : mode_(mode), state_(XXH3_createState()) {
    LYRE_CHECK(state_ != nullptr, "cannot allocate an XXH3 state");
  }
  ~DuplicateFilter() { XXH3_freeState(state_); }
  DuplicateFilter(const DuplicateFilter&) = delete;
  DuplicateFilter& operator=(const DuplicateFilter&) = delete;

  // True when an identical row (or lyric) came before.
  bool seen_before(std::span<const std::string_view> fields, std::size_t lyric_column) {
    switch (mode_) {
      case Dedupe::none:
        return false;
      case Dedupe::lyrics: {
        const std::string_view lyric = fields[lyric_column];
        return !seen_.insert(XXH3_128bits(lyric.data(), lyric.size())).second;
      }
      case Dedupe::rows:
        return !seen_.insert(hash_row(fields)).second;
    }
    return false;
  }

 private:
  // Every field with its length first, so that ("ab","c") and ("a","bc") differ.
  XXH128_hash_t hash_row(std::span<const std::string_view> fields) {
    XXH3_128bits_reset(state_);
    for (const std::string_view field : fields) {
      const std::uint64_t length = field.size();
      XXH3_128bits_update(state_, &length, sizeof length);
      XXH3_128bits_update(state_, field.data(), field.size());
    }
    return XXH3_128bits_digest(state_);
  }

  struct DigestHash {
    std::size_t operator()(const XXH128_hash_t& h) const { return h.low64; }
  };
  struct DigestEqual {
    bool operator()(const XXH128_hash_t& a, const XXH128_hash_t& b) const {
      return XXH128_isEqual(a, b) != 0;
    }
  };

  Dedupe mode_;
  XXH3_state_t* state_;
  std::unordered_set<XXH128_hash_t, DigestHash, DigestEqual> seen_;
};

// A lyrics row that survived cleaning and has a genre: its tokens and marks
// live in the corpus arrays while the pass runs.
struct KeptRow {
  std::uint64_t row = 0;
  std::uint32_t artist = 0;
  std::uint64_t token_begin = 0;
  std::uint32_t token_count = 0;
  std::uint64_t mark_begin = 0;
  std::uint32_t mark_count = 0;
};

// One (song, genre) pair entering genre selection; `every` makes several per row.
struct Sample {
  std::uint32_t kept_row = 0;
  std::uint32_t genre = 0;
};

std::size_t language_column(const CsvReader& reader) {
  if (const auto index = reader.find_column("language")) return *index;
  if (const auto index = reader.find_column("Idiom")) return *index;
  fail_input("{}: missing column 'language' (or 'Idiom') (columns: {})", reader.path().string(),
             join(reader.header(), ", "));
}

struct LyricsPass {
  std::vector<KeptRow> rows;
  StageTracker joined;
  StageTracker language;
};

// Streams the lyrics file once: join, language, dedupe, clean, genre check.
LyricsPass read_lyrics(const std::filesystem::path& path, const ArtistTable& artists,
                       const CorpusOptions& options, const ProgressFn& progress, Corpus& corpus) {
  CsvReader reader(path);
  const std::size_t link_column = reader.column("ALink");
  const std::size_t lyric_column = reader.column("Lyric");
  const std::size_t lang_column = language_column(reader);

  CorpusCounts& counts = corpus.counts;
  LyricsPass pass{{}, StageTracker(artists.genres.size()), StageTracker(artists.genres.size())};
  DuplicateFilter duplicates(options.dedupe);
  const LyricsCleaner cleaner(options.remove_stopwords ? &english_stopwords() : nullptr);
  std::vector<std::string_view> fields;
  std::vector<std::string> tokens;
  std::vector<LineMark> marks;
  std::uint64_t next_report = kProgressStepBytes;

  while (reader.next(fields)) {
    ++counts.lyric_rows;
    if (progress && reader.bytes_consumed() >= next_report) {
      progress(reader.bytes_consumed(), reader.file_size());
      next_report = reader.bytes_consumed() + kProgressStepBytes;
    }
    const auto artist_it = artists.by_link.find(trim(fields[link_column]));
    if (artist_it == artists.by_link.end()) {
      ++counts.unjoined;
      continue;
    }
    const std::uint32_t artist = artist_it->second;
    pass.joined.add(artist);
    if (!language_matches(fields[lang_column], options.language)) continue;
    pass.language.add(artist);
    if (duplicates.seen_before(fields, lyric_column)) {
      ++counts.duplicates_dropped;
      continue;
    }
    cleaner.clean(fields[lyric_column], tokens, marks, counts.clean);
    if (tokens.empty()) {
      ++counts.empty_dropped;
      continue;
    }
    const auto& genres = artists.genres[artist];
    if (genres.empty()) {
      ++counts.no_genre_dropped;
      continue;
    }
    if (options.genre_policy == GenrePolicy::single && genres.size() > 1) {
      ++counts.multi_genre_dropped;
      continue;
    }
    KeptRow kept;
    kept.row = reader.rows_read();
    kept.artist = artist;
    kept.token_begin = corpus.tokens.size();
    kept.token_count = static_cast<std::uint32_t>(tokens.size());
    kept.mark_begin = corpus.marks.size();
    kept.mark_count = static_cast<std::uint32_t>(marks.size());
    for (const std::string& token : tokens) corpus.tokens.push_back(corpus.words.intern(token));
    corpus.marks.insert(corpus.marks.end(), marks.begin(), marks.end());
    pass.rows.push_back(kept);
  }
  if (progress) progress(reader.bytes_consumed(), reader.file_size());
  return pass;
}

std::vector<Sample> make_samples(const std::vector<KeptRow>& rows, const ArtistTable& artists,
                                 GenrePolicy policy) {
  std::vector<Sample> samples;
  samples.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& genres = artists.genres[rows[i].artist];
    const auto index = static_cast<std::uint32_t>(i);
    if (policy == GenrePolicy::every) {
      for (const std::uint32_t g : genres) samples.push_back({index, g});
    } else {
      samples.push_back({index, genres.front()});
    }
  }
  return samples;
}

// Genres ranked by usable songs (most first, ties by name), cut to the top K.
std::vector<std::uint32_t> rank_genres(const std::vector<Sample>& samples,
                                       const ArtistTable& artists, std::int64_t top_genres,
                                       std::vector<std::uint64_t>& available) {
  available.assign(artists.genre_names.size(), 0);
  for (const Sample& s : samples) ++available[s.genre];
  std::vector<std::uint32_t> ranked;
  for (std::uint32_t g = 0; g < available.size(); ++g)
    if (available[g] > 0) ranked.push_back(g);
  std::sort(ranked.begin(), ranked.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (available[a] != available[b]) return available[a] > available[b];
    return artists.genre_names[a] < artists.genre_names[b];
  });
  if (top_genres > 0 && ranked.size() > static_cast<std::size_t>(top_genres))
    ranked.resize(static_cast<std::size_t>(top_genres));
  return ranked;
}

// A seeded sample of `per_genre` songs (0 = all) of one genre, from its
// candidates in row order.
std::vector<std::uint32_t> sample_genre(const std::vector<Sample>& samples, std::uint32_t genre,
                                        const std::string& name, const CorpusOptions& options) {
  std::vector<std::uint32_t> candidates;
  for (const Sample& s : samples)
    if (s.genre == genre) candidates.push_back(s.kept_row);
  const auto wanted = static_cast<std::uint64_t>(options.per_genre);
  if (wanted > candidates.size())
    fail_input(
        "data.per_genre: genre '{}' has only {} usable songs, fewer than data.per_genre = "
        "{}; lower data.per_genre, or set it to `all` to keep every song",
        name, candidates.size(), wanted);
  Rng rng(derive_seed(options.seed, hash_string(name)));
  rng.shuffle(std::span<std::uint32_t>(candidates));
  if (wanted > 0) candidates.resize(wanted);
  return candidates;
}

// Copies the selected songs' tokens and marks into fresh arrays in final
// order, dropping every other song's. A row selected under several genres
// (policy `every`) is stored once and shared.
void compact(Corpus& corpus, const std::vector<KeptRow>& rows,
             const std::vector<Sample>& selection) {
  constexpr std::uint64_t kNotCopied = std::numeric_limits<std::uint64_t>::max();
  std::vector<std::uint64_t> token_at(rows.size(), kNotCopied);
  std::vector<std::uint64_t> mark_at(rows.size(), kNotCopied);
  std::vector<std::uint32_t> tokens;
  std::vector<LineMark> marks;
  corpus.songs.clear();
  corpus.songs.reserve(selection.size());
  for (const Sample& s : selection) {
    const KeptRow& row = rows[s.kept_row];
    if (token_at[s.kept_row] == kNotCopied) {
      token_at[s.kept_row] = tokens.size();
      mark_at[s.kept_row] = marks.size();
      const auto token_src = corpus.tokens.begin() + static_cast<std::ptrdiff_t>(row.token_begin);
      tokens.insert(tokens.end(), token_src, token_src + row.token_count);
      const auto mark_src = corpus.marks.begin() + static_cast<std::ptrdiff_t>(row.mark_begin);
      marks.insert(marks.end(), mark_src, mark_src + row.mark_count);
    }
    CorpusSong song;
    song.row = row.row;
    song.label = s.genre;
    song.token_begin = token_at[s.kept_row];
    song.token_count = row.token_count;
    song.mark_begin = mark_at[s.kept_row];
    song.mark_count = row.mark_count;
    corpus.songs.push_back(song);
  }
  corpus.tokens = std::move(tokens);
  corpus.marks = std::move(marks);
}

void check_options(const CorpusOptions& options) {
  if (options.top_genres < 0)
    fail_input("data.top_genres: must be >= 0 (0 = all), got {}", options.top_genres);
  if (options.per_genre < 0)
    fail_input("data.per_genre: must be >= 0 (0 = all), got {}", options.per_genre);
}

struct LanguageName {
  std::string_view code;
  std::string_view name;
};
constexpr LanguageName kLanguages[] = {{"en", "ENGLISH"}, {"pt", "PORTUGUESE"}, {"es", "SPANISH"},
                                       {"fr", "FRENCH"},  {"de", "GERMAN"},     {"it", "ITALIAN"}};

}  // namespace

std::uint32_t WordTable::intern(std::string_view word) {
  if (const auto it = ids_.find(word); it != ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(words_.size());
  words_.emplace_back(word);
  ids_.emplace(words_.back(), id);
  return id;
}

CorpusOptions CorpusOptions::from(const DataConfig& config) {
  CorpusOptions options;
  options.language = config.language;
  options.genre_policy = config.genre_policy;
  options.dedupe = config.dedupe;
  options.top_genres = config.top_genres;
  options.per_genre = config.per_genre;
  options.remove_stopwords = config.remove_stopwords;
  options.seed = config.seed;
  return options;
}

bool language_matches(std::string_view value, std::string_view wanted) {
  value = trim(value);
  for (const LanguageName& language : kLanguages) {
    if (equals_ci(wanted, language.code) || equals_ci(wanted, language.name))
      return equals_ci(value, language.code) || equals_ci(value, language.name);
  }
  return equals_ci(value, wanted);
}

std::vector<std::string> split_genres(std::string_view cell) {
  std::vector<std::string> names;
  for (const std::string& part : split(cell, ';')) {
    const std::string_view name = trim(part);
    if (!name.empty() && name != "NA") names.emplace_back(name);
  }
  return names;
}

Corpus assemble_corpus(const std::filesystem::path& artists_csv,
                       const std::filesystem::path& lyrics_csv, const CorpusOptions& options,
                       const ProgressFn& progress) {
  check_options(options);
  Corpus corpus;
  CorpusCounts& counts = corpus.counts;
  const ArtistTable artists = read_artists(artists_csv, counts);
  LyricsPass pass = read_lyrics(lyrics_csv, artists, options, progress, corpus);
  counts.joined = pass.joined.count(artists);
  counts.language = pass.language.count(artists);

  const std::vector<Sample> samples = make_samples(pass.rows, artists, options.genre_policy);
  counts.usable_songs = samples.size();
  if (samples.empty())
    fail_input(
        "{}: no usable songs ({} rows, {} joined to an artist, {} in language '{}', {} "
        "left after de-duplication and cleaning)",
        lyrics_csv.string(), counts.lyric_rows, counts.joined.songs, counts.language.songs,
        options.language, counts.language.songs - counts.duplicates_dropped - counts.empty_dropped);

  std::vector<std::uint64_t> available;
  const std::vector<std::uint32_t> ranked =
      rank_genres(samples, artists, options.top_genres, available);

  // Labels follow the ranking; the selection is gathered genre by genre,
  // then shuffled once into its final order.
  std::vector<Sample> selection;
  for (std::uint32_t label = 0; label < ranked.size(); ++label) {
    const std::string& name = artists.genre_names[ranked[label]];
    const std::vector<std::uint32_t> chosen = sample_genre(samples, ranked[label], name, options);
    for (const std::uint32_t kept_row : chosen) selection.push_back({kept_row, label});
    corpus.genres.push_back(name);
    counts.genres.push_back({name, available[ranked[label]], chosen.size()});
  }
  Rng(derive_seed(options.seed, kFinalShuffleStream)).shuffle(std::span<Sample>(selection));
  counts.selected_songs = selection.size();

  compact(corpus, pass.rows, selection);
  return corpus;
}

}  // namespace lyre::data
