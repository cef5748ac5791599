"""Packaging of dxltieclient (metadata here; build system and tool settings in pyproject.toml)."""

import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    """Reads ``__version__`` from dxltieclient/_version.py without importing the package."""
    namespace = {}
    with open(os.path.join(HERE, "dxltieclient", "_version.py")) as version_file:
        exec(version_file.read(), namespace)  # our own one-line file
    return namespace["__version__"]


with open(os.path.join(HERE, "README.md"), encoding="utf-8") as readme:
    LONG_DESCRIPTION = readme.read()

TEST_REQUIRES = [
    "pytest>=7",
    "pytest-timeout>=2.1",
    "pytest-asyncio>=0.23",
    "hypothesis>=6",
    "ruff>=0.4",
    "mypy>=1.5",
]
DOCS_REQUIRES = ["sphinx>=6"]

setup(
    name="dxltieclient",
    version=read_version(),
    description="McAfee Threat Intelligence Exchange (TIE) DXL client library",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="Apache License 2.0",
    keywords=["opendxl", "dxl", "mcafee", "client", "tie"],
    python_requires=">=3.9",
    packages=find_packages(include=["dxltieclient", "dxltieclient.*"]),
    package_data={
        "dxltieclient": ["py.typed"],
        "dxltieclient._config.sample": ["dxlclient.config"],
    },
    include_package_data=True,
    install_requires=[
        "dxlbootstrap>=0.2.0",
        "dxlclient>=4.1.0.184",
        "cryptography>=3.4",
        "tqdm>=4",
    ],
    extras_require={
        "test": TEST_REQUIRES,
        "docs": DOCS_REQUIRES,
        "dev": TEST_REQUIRES + DOCS_REQUIRES,
    },
    entry_points={
        "console_scripts": [
            "dxltie = dxltieclient.cli:main",
            "dxltie-sandbox = dxltieclient.sandbox.__main__:main",
        ],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
    ],
)
