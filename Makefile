# Every target sets up .venv itself, so `make lab` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
# nbgrader's CLI calls `alembic` by name, so the venv's bin must be on PATH.
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"
# TensorFlow's many threads would each grow a glibc heap of their own; two shared heaps keep a
# notebook that trains model after model inside Binder's memory (docs/benchmarks/notebooks.json
# holds each notebook's peak, measured with this setting).
# Binder gets the same from the `start` file. Kernels inherit it from `make lab`.
export MALLOC_ARENA_MAX ?= 2
# Jupyter refuses to run as root (containers, CI) unless told.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help install lab lab-instructor test test-fast test-colab lint bench bench-full bench-notebooks bench-notebooks-colab bench-claims bench-grading bench-exercise readme book pretrain pretrain-unlabeled docs-images release autograde formgrade grades similarity grading-scheduler grading-worker
.DEFAULT_GOAL := help

# `make help` lists every target that has a `## ` description on its line, so the list cannot drift.
help: ## this list
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "make %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP) ## set up .venv (every target does it when needed)

# Students get the configuration Binder gets (config/student: no instructor tools); instructors
# get every nbgrader tool (config/instructor). Neither asks about Jupyter news on first start.
lab: $(STAMP) ## open the course in JupyterLab, as students see it
	JUPYTER_CONFIG_PATH="$(CURDIR)/config/student" $(RUN) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_ARGS)

lab-instructor: $(STAMP) ## the same with nbgrader's instructor tools (formgrader, create assignment)
	JUPYTER_CONFIG_PATH="$(CURDIR)/config/instructor" $(RUN) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_ARGS)

test: lint ## the whole test suite, offline (what CI runs: about an hour on 2 cores)
	$(RUN) $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: lint ## the quick tier: every test not marked slow (under 5 minutes)
	$(RUN) $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# Colab's environment (config/colab/preinstalled.txt: Python 3.13, its TensorFlow, Keras, ipywidgets and the rest
# at Colab's versions), built from pyenv's Python 3.13 without the course; make test-colab then installs the
# course as the notebooks' set-up cell does there (tools/colab.py) and runs the student-side tests in it.
COLAB_VENV   := .venv-colab
COLAB_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13))
COLAB_STAMP  := $(COLAB_VENV)/.colab-installed
COLAB_TESTS  := tests/test_colab.py tests/test_notebooks_run.py tests/test_surgery.py tests/test_learning_rates.py \
    tests/test_recipe.py tests/test_training.py tests/test_models.py tests/test_hidden_checks.py \
    tests/test_widgets.py tests/test_uploads.py tests/test_quiet.py

$(COLAB_STAMP): config/colab/preinstalled.txt
	@test -n "$(COLAB_PYTHON)" || { echo "make test-colab needs Python 3.13 (pyenv install 3.13, or COLAB_PYTHON=/path/to/python3.13)"; exit 2; }
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet "$$(grep '^pip==' config/colab/preinstalled.txt)"
	$(COLAB_VENV)/bin/python -m pip install --quiet -r config/colab/preinstalled.txt
	$(COLAB_VENV)/bin/python -m pip install --quiet pytest-socket -c config/colab/preinstalled.txt
	@touch $(COLAB_STAMP)

# The kernels the notebook tests start run `python` from PATH, as Colab's do: the Colab environment's. Colab's
# jupyter_client 7.4 warns on Python 3.13 of deprecations in its own code: not shown.
test-colab: lint $(COLAB_STAMP) ## the student-side tests, every notebook included, in Colab's environment (about 20 min)
	$(COLAB_VENV)/bin/python -m tools.colab install
	PATH="$(CURDIR)/$(COLAB_VENV)/bin:$$PATH" COURSE_ENVIRONMENT=colab \
	    $(COLAB_VENV)/bin/python -m pytest -p no:cacheprovider -W ignore::DeprecationWarning $(COLAB_TESTS) $(PYTEST_ARGS)

lint: $(STAMP) ## ruff's lint rules and formatting (ruff format --check)
	$(RUN) $(BIN)/ruff check .
	$(RUN) $(BIN)/ruff format --check .

bench: $(STAMP) ## the strategy ladder at N=100 (about 15 min)
	$(RUN) $(BIN)/python -m benchmarks.ladder

bench-full: $(STAMP) ## the ladder at N=20, 50, 100, 200
	$(RUN) $(BIN)/python -m benchmarks.ladder --full

bench-notebooks: $(STAMP) ## run every lecture notebook; print its time and peak memory
	$(RUN) $(BIN)/python -m benchmarks.notebooks

bench-notebooks-colab: $(COLAB_STAMP) ## the same in Colab's environment (make test-colab's); README shows both
	$(COLAB_VENV)/bin/python -m tools.colab install
	PATH="$(CURDIR)/$(COLAB_VENV)/bin:$$PATH" COURSE_ENVIRONMENT=colab $(COLAB_VENV)/bin/python -m benchmarks.notebooks

bench-claims: $(STAMP) ## measure every lecture claim over 5 seeds (under an hour); writes the ledger
	$(RUN) $(BIN)/python -m benchmarks.claims

bench-grading: $(STAMP) ## grade copies of the solution serially and on Dask (1, 2 workers)
	$(RUN) $(BIN)/python -m benchmarks.grading

bench-exercise: $(STAMP) ## the exercise's night-camera line over 6 seeds, and its self-checks against the grader (about an hour)
	$(RUN) $(BIN)/python -m benchmarks.exercise --night --seeds 6
	$(RUN) $(BIN)/python -m benchmarks.exercise --agreement

readme: $(STAMP) ## rewrite README's benchmark tables and numbers and its Colab links
	$(RUN) $(BIN)/python -m tools.readme

# Reuses the lectures' executions that make test and make bench-notebooks keep in build/executed/.
book: $(STAMP) ## build the course as a static HTML book in build/book/ (Jupyter Book)
	$(RUN) $(BIN)/python -m tools.book

pretrain: $(STAMP) ## rebuild the bundled base weights from scratch (under an hour on 2 cores)
	$(RUN) $(BIN)/python -m helpers.pretraining.supervised

pretrain-unlabeled: $(STAMP) ## rebuild the base pretrained without labels (contrastive, as in SimCLR)
	$(RUN) $(BIN)/python -m helpers.pretraining.self_supervised

docs-images: $(STAMP) ## redraw README's pictures
	$(RUN) $(BIN)/python -m tools.docs_images

release: $(STAMP) ## regenerate exercises/ from solutions/ with nbgrader
	$(RUN) $(BIN)/nbgrader generate_assignment sunglasses_vs_hat --force

# JOBS=1 grades in one process; SCHEDULER= grades on a Dask cluster; STUDENT= grades one student again.
autograde: $(STAMP) ## SUBMISSIONS=folder [JOBS=n] [SCHEDULER=tcp://host:8786] [STUDENT=id] [REGRADE=1]: grade a class
	@test -n "$(SUBMISSIONS)" || { echo "usage: make autograde SUBMISSIONS=path/to/folder [JOBS=n] [SCHEDULER=tcp://host:8786] [STUDENT=id] [REGRADE=1]"; exit 2; }
	$(RUN) $(BIN)/python -m grading "$(SUBMISSIONS)" $(if $(JOBS),--jobs $(JOBS)) \
	    $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(STUDENT),--student $(STUDENT)) $(if $(REGRADE),--regrade) \
	    $(AUTOGRADE_ARGS)

# Gathers what make autograde kept into graded/formgrade (one nbgrader course, scores given by hand kept
# across runs) and opens nbgrader's formgrader there, in make lab-instructor's configuration.
formgrade: $(STAMP) ## [GRADED=graded]: hand-grade the reflections in nbgrader's formgrader, after make autograde
	$(RUN) $(BIN)/python -m grading.formgrade $(if $(GRADED),--graded "$(GRADED)") $(LAB_ARGS)

# After make autograde (and hand-grading): final.csv, the LMS's file, the steps the class missed, pages to send.
grades: $(STAMP) ## SUBMISSIONS=folder [ROSTER=lms.csv LMS=canvas|moodle ROSTER_ID=column] [TIMES=times.csv]: final grades
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grades SUBMISSIONS=path/to/folder [ROSTER=lms-export.csv LMS=canvas|moodle ROSTER_ID=\"SIS Login ID\"] [TIMES=times.csv]"; exit 2; }
	$(RUN) $(BIN)/python -m grading.final "$(SUBMISSIONS)" $(if $(ROSTER),--roster "$(ROSTER)" --lms $(LMS) --roster-id "$(ROSTER_ID)") \
	    $(if $(TIMES),--times "$(TIMES)") $(GRADES_ARGS)

similarity: $(STAMP) ## SUBMISSIONS=folder: which students share their own code or prose (graded/similarity/, yours only)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make similarity SUBMISSIONS=path/to/folder"; exit 2; }
	$(RUN) $(BIN)/python -m grading.similarity "$(SUBMISSIONS)" $(SIMILARITY_ARGS)

# A class on several machines (README: "Grading a whole class"). The scheduler gives up on a submission
# after its second dead worker; each machine runs as many one-thread workers as it has cores and
# 1.3 GB of memory for (grading.dispatch.local_workers), from this checkout (tasks import grading).
grading-scheduler: $(STAMP) ## start a Dask scheduler for grading on several machines (port 8786)
	DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 PYTHONPATH="$(CURDIR)" $(RUN) $(BIN)/dask scheduler $(DASK_ARGS)

grading-worker: $(STAMP) ## SCHEDULER=tcp://host:8786: grade on this machine for that scheduler (as root)
	@test -n "$(SCHEDULER)" || { echo "usage: make grading-worker SCHEDULER=tcp://host:8786"; exit 2; }
	PYTHONPATH="$(CURDIR)" $(RUN) $(BIN)/dask worker "$(SCHEDULER)" --nthreads 1 --memory-limit 0 --nanny \
	    --nworkers $$(PYTHONPATH="$(CURDIR)" $(BIN)/python -c "from grading.dispatch import local_workers; print(local_workers()[0])") \
	    $(DASK_ARGS)
