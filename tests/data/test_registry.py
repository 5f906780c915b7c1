"""Registry declarations, unknown names and split handling."""

import re

import pytest

from repro.data import DATASETS, DatasetError, FileSpec, UnknownDatasetError, load, verify
from repro.data.registry import MNIST_URL_BASES, get_spec

# sha256 of the official MNIST files and usps.h5 (shared/data/README.md)
README_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "usps.h5": "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36",
}


# no sha256 is published for these (data/README.md): their files are used unverified
UNVERIFIED = {"nus-wide", "mirflickr-25k"}


def test_registered_names():
    assert set(DATASETS) == {"mnist-full", "mnist-test", "usps", "cifar-10", "stl-10",
                             "nus-wide", "mirflickr-25k",
                             # derived (repro.data.derived), from the MNIST / USPS files
                             "mnist-pairs", "usps-28", "mnist-train-04", "mnist-train-59",
                             "mnist-test-04", "mnist-test-59"}
    for name in ("mnist-pairs", "mnist-train-04", "mnist-test-59"):
        assert DATASETS[name].all_files == DATASETS["mnist-full"].all_files
    assert DATASETS["usps-28"].all_files == DATASETS["usps"].all_files


def test_every_file_has_a_sha256_and_a_way_to_get_it():
    for spec in DATASETS.values():
        for f in spec.all_files:
            if spec.name in UNVERIFIED:
                assert f.sha256 is None and not f.verified, f.filename
                assert not f.urls and f.manual_page.startswith("https://"), f.filename
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", f.sha256) and f.verified, f.filename
            assert f.urls or f.manual_page, f.filename
            assert f.subfolder and "/" not in f.subfolder


def test_unverified_files_and_folders_are_declared_consistently():
    with pytest.raises(ValueError, match="cannot be downloaded automatically"):
        FileSpec("f.zip", "x", None, urls=("https://example.org/f.zip",))
    with pytest.raises(ValueError, match="a folder has no sha256"):
        FileSpec("Flickr", "x", "0" * 64, folder=True)
    folders = [f.filename for spec in DATASETS.values() for f in spec.all_files if f.folder]
    assert folders == ["Flickr"]


def test_nus_wide_and_mirflickr_files_and_official_pages():
    nus = {f.filename: f for f in DATASETS["nus-wide"].all_files}
    assert set(nus) == {"Groundtruth.zip", "ImageList.zip", "Flickr"}
    assert nus["Flickr"].manual_page.endswith("nuswide/NUS-WIDE.html")
    for name in ("Groundtruth.zip", "ImageList.zip"):
        assert nus[name].manual_page == (
            "https://lms.comp.nus.edu.sg/wp-content/uploads/2019/research/nuswide/" + name)
    mir = {f.filename: f.manual_page for f in DATASETS["mirflickr-25k"].all_files}
    assert mir == {name: "https://press.liacs.nl/mirflickr/mirflickr25k.v3b/" + name
                   for name in ("mirflickr25k.zip", "mirflickr25k_annotations_v080.zip")}
    for name in ("nus-wide", "mirflickr-25k"):
        assert DATASETS[name].options == ("image_size",) and DATASETS[name].splits == ()


def test_mnist_and_usps_checksums_are_those_of_the_data_readme():
    declared = {f.filename: f.sha256 for name in ("mnist-full", "usps")
                for f in DATASETS[name].all_files}
    assert declared == README_SHA256
    assert {f.filename for f in DATASETS["mnist-test"].all_files} == {
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}


def test_mnist_urls_try_the_original_location_then_the_mirrors():
    for f in DATASETS["mnist-full"].all_files:
        assert f.urls == tuple(base + f.filename for base in MNIST_URL_BASES)
    assert "yann.lecun.com" in MNIST_URL_BASES[0]
    assert any("cvdf-datasets" in b for b in MNIST_URL_BASES)
    assert any("ossci-datasets" in b for b in MNIST_URL_BASES)


def test_usps_is_a_manual_download_from_kaggle():
    (usps,) = DATASETS["usps"].all_files
    assert usps.urls == ()
    assert "kaggle.com" in usps.manual_page and "usps-dataset" in usps.manual_page


def test_cifar10_accepts_python_then_binary_archive():
    sources = DATASETS["cifar-10"].sources
    assert [[f.filename for f in s] for s in sources] == [
        ["cifar-10-python.tar.gz"], ["cifar-10-binary.tar.gz"]]


@pytest.mark.parametrize("call", [load, verify, get_spec])
def test_unknown_name_lists_the_known_names(call):
    with pytest.raises(UnknownDatasetError) as info:
        call("mnist-ful")
    message = str(info.value)
    assert "'mnist-ful'" in message
    for name in DATASETS:
        assert name in message
    assert isinstance(info.value, DatasetError)


def test_split_is_refused_for_a_dataset_without_splits():
    with pytest.raises(DatasetError, match="'usps' has no splits"):
        load("usps", split="train")


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(DatasetError, match="'val'.*train, test, all"):
        load("cifar-10", split="val")
