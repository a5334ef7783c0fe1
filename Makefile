# FrontDesk: `make run` (fresh machine -> served demo), `make test`, `make bench`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run install migrate demo test bench bench-load bench-outbox bench-import clean translations mutate

$(BIN)/flask: requirements.txt requirements-dev.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(BIN)/flask

install: $(BIN)/flask

migrate: install
	mkdir -p instance
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask seed-demo

run: demo
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.charts  # the charts' SQL on the database bench.run filled (issue 17)
	if [ "$$BENCH_ATTACHMENTS" = "1" ]; then $(BIN)/python -m bench.attachments; fi
	if [ "$$BENCH_OUTBOX" = 1 ]; then $(BIN)/python -m bench.outbox; fi
	if [ "$$BENCH_IMPORT" = 1 ]; then $(BIN)/python -m bench.imports; fi

bench-import: install  # 50,000 residents: preview and confirm through the screens (bench/imports.py)
	$(BIN)/python -m bench.imports

bench-outbox: install  # 10,000 queued e-mails through the worker into aiosmtpd (bench/outbox.py)
	$(BIN)/python -m bench.outbox

# throughput: gunicorn (2 workers) on the PostgreSQL database `make bench` filled, 16 clients for 60 s
bench-load: install
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) instance .pytest_cache mutants

# every catalog under app/translations: Flask-Admin's strings in Chinese (admin.po), the app's in English (frontdesk.po)
translations: install
	$(BIN)/python -c "import glob; from babel.messages.pofile import read_po; from babel.messages.mofile import write_mo; [write_mo(open(p[:-3] + '.mo', 'wb'), read_po(open(p, 'rb'))) for p in glob.glob('app/translations/*/LC_MESSAGES/*.po')]"

# mutation testing of the kernel's mechanisms (setup.cfg [mutmut]): a developer tool, not part of `make test`
MUTATE_JOBS ?= 2
mutate: install
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS) >/dev/null 2>&1 || true
	$(BIN)/python tools/mutation_report.py
