# The README's two commands: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
DB     ?= var/socialwork.db
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export SOCIALWORK_DB := $(abspath $(DB))

.PHONY: run test build install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

# Rebuilt when anything in data/, seeds/ or the build code is newer than the database.
$(DB): $(STAMP) $(shell find data seeds -type f 2>/dev/null) api/build.py api/validate.py
	$(BIN)/flask --app api build --db $(DB)

build: $(DB)

run: $(DB)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py "api:create_app()"

test: $(DB)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
