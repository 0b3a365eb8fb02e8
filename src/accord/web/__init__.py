"""What every accord web server shares (the review page, the OTLP receiver): the access token, host-name and
forgery guards, security headers (`security`), and running uvicorn with bounds on slow clients (`serving`)."""
