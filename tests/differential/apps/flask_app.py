"""The three-area layout in Flask (Werkzeug's server): answers which view Flask chose."""
import logging
import sys

from flask import Flask, request

app = Flask(__name__)
app.url_map.strict_slashes = False
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def answer(area):
    user = request.headers.get("X-Auth-User-Id", "")
    body = f"area={area} user={user} path={request.path}"
    return body, 200, {"X-App": "flask", "X-Area": area, "Content-Type": "text/plain"}


@app.route("/public", methods=METHODS, endpoint="public_root")
@app.route("/public/<path:rest>", methods=METHODS)
def public(rest=None):
    return answer("public")


@app.route("/admin", methods=METHODS, endpoint="admin_root")
@app.route("/admin/<path:rest>", methods=METHODS)
def admin(rest=None):
    return answer("admin")


@app.route("/", methods=METHODS, endpoint="protected_root")
@app.route("/<path:rest>", methods=METHODS)
def protected(rest=None):
    return answer("protected")


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
