# sluice - the two commands a fresh Debian machine needs:
#   make run    install what is missing, build, run the embedded default pipeline
#   make test   install what is missing, build, run every test (ctest)
# Other targets: make (build only), make asan (sanitizer suite), make fuzz
# (short libFuzzer runs), make chaos (failure drills, tests/chaos; CHAOS_SHORT=1
# for the few-minute CI version), make bench SCENARIO=stdin_blackhole, make clean.
# CMAKE_FLAGS goes to every cmake configure (CI: -DSLUICE_WERROR=ON).

BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
JOBS        ?= $(shell nproc)
FUZZ_SECS   ?= 30
CHAOS_SHORT ?=
CMAKE_FLAGS ?=

DEBIAN_PACKAGES = build-essential cmake pkg-config clang libclang-rt-14-dev \
  librdkafka-dev libcurl4-openssl-dev libpcre2-dev libjansson-dev \
  libmicrohttpd-dev liblz4-dev libyaml-dev zlib1g-dev libzstd-dev libdeflate-dev \
  libcmocka-dev libssl-dev python3 python3-pytest python3-requests prometheus pcre2-utils python3-zstandard \
  kcat python3-kafka python3-confluent-kafka python3-lz4 python3-snappy

.PHONY: all build deps run test asan fuzz chaos bench clean

all: build

# Installs the Debian packages that are missing (only as root; otherwise it
# names them and carries on, so a prepared machine needs no root).
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	  else \
	    echo "missing Debian packages (run as root to install): $$missing" >&2; \
	  fi; \
	fi

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/Makefile
	$(if $(CMAKE_FLAGS),cmake -S . -B $(BUILD) $(CMAKE_FLAGS))
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/sluice

test: build
	cd $(BUILD) && ctest -j2 --output-on-failure

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest -j2 --output-on-failure

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF \
	  $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for f in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	  echo "== $$name ($(FUZZ_SECS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECS) -timeout=10 -rss_limit_mb=2048 \
	    $(FUZZ_BUILD)/corpus/$$name $$( [ -d $$corpus ] && echo $$corpus ) || exit 1; \
	done

# The chaos suite (docs/operations.md): outages, throttling, a faulty network,
# queue backup, kill -9, disk and CPU pressure against the release build.
# Not part of `make test`: it runs for minutes and loads every core.
chaos: build
	SLUICE_BIN=$(abspath $(BUILD))/sluice CHAOS_SHORT=$(CHAOS_SHORT) \
	  /usr/bin/python3 -m pytest tests/chaos -v

bench: build
	/usr/bin/python3 bench/run $(SCENARIO)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
