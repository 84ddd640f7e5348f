# Two commands do all set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
EVAL_STAMP := $(VENV)/.installed-eval-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-eval vllm browser serve test test-fast lint bench bench-batch bench-llm bench-load bench-soak bench-teacher bench-lesson bench-scale eval calibrate clean

# `install`: what serving needs (and the dev tools); `install-eval` adds the offline `eval`
# extra (scikit-learn, scipy, matplotlib) for the tests, lint, eval, calibrate and benchmarks.
install: $(STAMP)

install-eval: $(EVAL_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

$(EVAL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	touch $@

# The local vLLM (its own virtual environment and the tiny SmolLM2 model), unless
# RUBRICATE_LLM_URL names a vLLM server that already runs.
vllm:
	@if [ -z "$$RUBRICATE_LLM_URL" ]; then bash scripts/prepare_vllm.sh; fi

# MALLOC_ARENA_MAX=2: glibc gives each worker thread its own arena; capping them cut a
# 10,000-row batch's peak RSS from about 1,100 MB to 930 MB.
serve: install vllm
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-2} $(BIN)/rubricate serve --host $(HOST) --port $(PORT)

# Headless Chromium for the widget test (Debian's package; needs root, else the test skips).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "warning: chromium not installed; the widget test will be skipped"

test: install-eval vllm browser
	$(BIN)/pytest -q -ra

test-fast: install-eval
	$(BIN)/pytest -q -ra -m "not integration"

lint: install-eval
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install-eval vllm
	$(BIN)/python -m bench.grade_http
	$(MAKE) bench-batch

# The LLM path against the real vLLM: rubricate vs raw vLLM at concurrency 1, 8, 32, and the
# prefix-cache hit rate over a class of 200 answers (slow on a CPU: the 135M model decodes
# a few hundred tokens per answer).
bench-llm: install-eval vllm
	$(BIN)/python -m bench.llm

# A class submitting at once against the default server with the local LLM ready: answers/s,
# p50/p95/p99, how the LLM was used, at 8, 32 and 128 closed-loop clients for 30 s each.
bench-load: install-eval vllm
	$(BIN)/python -m bench.load

# Ten minutes at 32 clients, vLLM killed and restarted in the middle: RSS, descriptors, answers.
bench-soak: install-eval vllm
	$(BIN)/python -m bench.soak

# The lesson answer bank: labels right per question, off by two, right answers told they hold a
# misconception; with and without the rubric's exemplars.
bench-lesson: install-eval
	$(BIN)/python -m bench.lesson_bank --verbose
	$(BIN)/python -m bench.lesson_bank --no-exemplars

# Batch grading: answers/s, time to first result, peak RSS at 1,000 and 10,000 rows.
bench-batch: install-eval
	$(BIN)/python -m bench.batch

# Past one machine: batch answers/s against 1/2/4 workers x 1/2/4 stub LLM replicas (~8 min).
bench-scale: install-eval
	$(BIN)/python -m bench.scale

# Grading quality on SAF, embeddings only: figures, Markdown and plots into docs/eval/; then
# unseen_questions with 5, 10 and 20 teacher-graded answers per question, and unseen_answers
# with the training answers as exemplars. `make calibrate` refits the shipped calibration on SAF
# training (never on the unseen_* splits it is measured on). The human-graded datasets stay out
# of the repository: RUBRICATE_DATASETS_DIR, default ../shared/datasets beside it.
DATASETS_DIR ?= $(or $(RUBRICATE_DATASETS_DIR),../shared/datasets)
SAF_DIR := $(DATASETS_DIR)/saf

eval: install-eval
	RUBRICATE_DATASETS_DIR=$(DATASETS_DIR) $(BIN)/rubricate eval $(SAF_DIR)/unseen_answers \
		$(SAF_DIR)/unseen_questions --no-llm --output docs/eval
	RUBRICATE_DATASETS_DIR=$(DATASETS_DIR) $(BIN)/rubricate eval $(SAF_DIR)/unseen_questions \
		--no-llm --teacher-graded 5 --teacher-graded 10 --teacher-graded 20 \
		--output docs/eval/teacher-graded
	RUBRICATE_DATASETS_DIR=$(DATASETS_DIR) $(BIN)/rubricate eval $(SAF_DIR)/unseen_answers \
		--no-llm --exemplars-from $(SAF_DIR)/training --output docs/eval/exemplars

calibrate: install-eval
	RUBRICATE_DATASETS_DIR=$(DATASETS_DIR) $(BIN)/rubricate calibrate --train $(SAF_DIR)/training \
		--no-llm

clean:
	rm -rf $(VENV) .vllm .cache

# The teacher in the loop on SAF unseen_questions: the real review queue, reviews that teach,
# regrade; the share of a class a teacher reviews before 95% of its labels are right (~5 min).
bench-teacher: install-eval
	$(BIN)/python -m bench.teacher_loop
