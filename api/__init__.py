"""China social-work initiatives 2025: the dataset (dataset/), its build (build/), its queries (query/), and the web
app that serves them (web/, v1/, site/; app.py assembles it)."""
