"""Packaging for the service-hall system: hall server, kiosk clients, devices and printers."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

TOP_PACKAGES = ("queueing", "wire", "hall_server", "devices", "printers", "kiosk", "assets")
CORE = [
    "fastapi>=0.110",
    "uvicorn[standard]>=0.29",
    "SQLAlchemy>=2.0.25",
    "alembic>=1.13",
    "pydantic>=2.12",  # model_validate(extra=...): the kiosk ignores fields a newer server adds
    "requests>=2.31",
    "websockets>=12",
    "zeroconf>=0.131",
    "cryptography>=42",
    "openpyxl>=3.1",
    "numpy>=1.26",  # statistics: vectorised grouping of a year of tickets
    "python-multipart>=0.0.9",
    "pydantic-settings>=2.2",
    "Pillow>=10.2",  # staff photos: checked, shrunk to a thumbnail and stripped of EXIF on upload
]
KIOSK = [
    # 6.12.0 on Python 3.11 drops a reference to None on every void Qt call and to True on every
    # signal: a kiosk aborts (none_dealloc) after about 10,000 setText calls. 6.11.3 does not.
    "PySide6-Essentials>=6.6,<6.12",
]
DEVICES = [
    "pyserial>=3.5",
    "pyscard>=2.0.7",
    "python-escpos>=3.1",
    "pyusb>=1.2",  # USB receipt printers (printers/links/usb.py)
    "opencv-python-headless>=4.8,<5",
    "Pillow>=10.2",
    "qrcode>=7.4",
    "numpy>=1.26",
]
POSTGRES = [
    "psycopg[binary]>=3.1.18",
]
DEV = [
    "pytest>=8.0",
    "pytest-qt>=4.3",
    "pytest-timeout>=2.2",
    # .ci/run spreads the suite over worker processes (tests/conftest.py groups what must share one)
    "pytest-xdist>=3.5",
    "hypothesis>=6.98",
    # tests/hall_server/test_fuzz_openapi.py: requests generated from the server's own OpenAPI
    "schemathesis>=4.0",
    "httpx>=0.27",
    "playwright>=1.42",
    "ruff>=0.4",
    # benchmarks/load.py --profile samples the server with it
    "py-spy>=0.3",
]

setup(
    name="hall-system",
    version="0.1.0",
    description="Self-service kiosks and service-hall management for government service halls",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # Namespace discovery: data-only folders (assets/calendar, hall_server/web/static, the voice pack)
    # are packages of their own, so each is listed with its data instead of setuptools warning that it
    # "would be ignored" (one warning block per folder on every install).
    packages=find_namespace_packages(
        include=[f"{p}{s}" for p in TOP_PACKAGES for s in ("", ".*")], exclude=["*.__pycache__"]
    ),
    include_package_data=True,
    package_data={
        "assets": ["*.json"],
        "assets.calendar": ["*.json", "*.md"],
        # The default voice pack is generated at install time (hall-kiosk voice-pack build), not committed.
        "assets.voice.default": ["*.wav", "*.json"],
        "hall_server.migrations": ["script.py.mako"],
        "hall_server.web": ["*.html"],
        "hall_server.web.static": ["*.css", "*.js"],
        "devices": ["README.md"],
        "kiosk": ["README.md"],
    },
    install_requires=CORE,
    extras_require={
        "kiosk": KIOSK + DEVICES,
        "devices": DEVICES,
        "postgres": POSTGRES,
        "dev": DEV,
        "all": KIOSK + DEVICES + POSTGRES + DEV,
    },
    entry_points={
        "console_scripts": [
            "hall-server=hall_server.cli:main",
            "hall-kiosk=kiosk.cli:main",
            "hall-sim=devices.sim.cli:main",
        ],
    },
)
