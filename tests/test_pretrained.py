"""Published weights (torchvision's, timm's) read into cnnzoo's networks: the same outputs as
the library's own network with the same tensors, preprocessing as the library publishes it,
damaged and foreign files refused. No weights are downloaded: the files here are the
libraries' networks at random initialisation, saved in the layout of their published files."""

import hashlib
import json
import re

import pytest
import timm
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file
from torchvision.models import GoogLeNet_Weights, ResNet50_Weights

import cnnzoo
from cnnzoo import pretrained
from cnnzoo._checks import SettingWarning
from cnnzoo.cli import main


def _outputs_match(ours, reference, size=64):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference.eval()(x))


# torchvision's architecture, our network of the same computation (README, "Models"), the
# builder's arguments torchvision's own pretrained builder uses (googlenet: transform_input).
@pytest.mark.parametrize("arch,ours,kwargs,size", [
    ("resnet18", "resnet18", {}, 64),
    ("resnet50", "resnet50_tv", {}, 64),
    ("mobilenet_v2", "mobilenet_v2", {}, 64),
    ("googlenet", "googlenet_tv", {"transform_input": True, "init_weights": True}, 64),
    ("inception_v3", "inception_v3", {"transform_input": True, "init_weights": True}, 299),
])
def test_torchvision_files_give_torchvisions_outputs(tmp_path, arch, ours, kwargs, size):
    torch.manual_seed(0)
    reference = torchvision.models.get_model(arch, weights=None, **kwargs)
    path = tmp_path / f"{arch}.pth"
    torch.save(reference.state_dict(), path)
    with pytest.warns(SettingWarning, match="not one of torchvision's published"):
        model, meta = pretrained.load_published(path, ours)
    assert meta["model"] == ours
    _outputs_match(model, reference, size)


def test_densenet_files_keep_the_old_key_names(tmp_path):
    """torchvision's published DenseNet files hold ``norm.1``-style keys, renamed by the
    pattern of ``torchvision.models.densenet._load_state_dict``."""
    torch.manual_seed(0)
    reference = torchvision.models.densenet121(weights=None)
    old = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
           for k, v in reference.state_dict().items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old  # the published files' layout
    torch.save(old, tmp_path / "densenet121-a639ec97-copy.pth")
    with pytest.warns(SettingWarning):
        model, _ = pretrained.load_published(tmp_path / "densenet121-a639ec97-copy.pth", "densenet121")
    _outputs_match(model, reference)


def test_timm_legacy_senet_file_as_safetensors(tmp_path):
    """The authors' SE-ResNet weights as timm ports them (``legacy_seresnet50``), in a
    Hugging Face ``model.safetensors``; timm's pretrained_cfg gives their preprocessing."""
    torch.manual_seed(0)
    reference = timm.create_model("legacy_seresnet50")
    save_file(reference.state_dict(), tmp_path / "model.safetensors")
    model, meta = pretrained.load_published(tmp_path / "model.safetensors", "se_resnet50")
    _outputs_match(model, reference)
    cfg = timm.models.get_pretrained_cfg("legacy_seresnet50.in1k")
    assert meta["data_config"]["input_size"] == list(cfg.input_size)
    assert meta["data_config"]["test_crop"] == pytest.approx(cfg.crop_pct, abs=0.005)
    assert meta["data_config"]["mean"] == list(cfg.mean) and meta["data_config"]["std"] == list(cfg.std)


@pytest.mark.parametrize("ours,timm_name", [(n, s.name) for n, s in pretrained.TIMM.items()])
def test_timm_preprocessing_is_timms(ours, timm_name):
    cfg = timm.models.get_pretrained_cfg(timm_name)
    source = pretrained.TIMM[ours]
    assert (3, source.crop, source.crop) == cfg.input_size
    assert (list(source.mean), list(source.std)) == (list(cfg.mean), list(cfg.std))
    assert source.crop / source.resize == pytest.approx(cfg.crop_pct, abs=0.005)
    assert source.interpolation == cfg.interpolation  # bicubic for the TF Inceptions


def test_timm_inception_images_are_preprocessed_as_timm_does(tmp_path):
    """inception_v4.tf_in1k: shorter side to 341 bicubically, a 299 centre crop, mean and std
    0.5 (timm's create_transform of its pretrained_cfg)."""
    save_file(timm.create_model("inception_v4").state_dict(), tmp_path / "model.safetensors")
    _, meta = pretrained.load_published(tmp_path / "model.safetensors", "inception_v4")
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 30, 40, generator=torch.Generator().manual_seed(0)),
                                             size=(375, 500), mode="bilinear", align_corners=False)
    image = Image.fromarray((smooth[0].permute(1, 2, 0) * 255).round().byte().numpy())
    probe = _Probe()
    probe.data_config = meta["data_config"]
    cnnzoo.predict(probe, [image])
    config = timm.data.resolve_data_config({}, pretrained_cfg=timm.models.get_pretrained_cfg("inception_v4.tf_in1k").to_dict())
    reference = timm.data.create_transform(**config)(image)
    assert probe.seen.shape[1:] == reference.shape == (3, 299, 299)
    # the long side 454.67 truncated to 454, one centre crop (offsets 78 and 21)
    assert (probe.seen[0] - reference).abs().mean() < 0.0025  # a fifth of a grey level (1/255 over std
    # 0.5 ≈ 0.008) on average; resized bilinearly it would be 0.0035


def test_a_file_is_recognised_by_its_sha256(tmp_path, monkeypatch):
    """torch.hub names each file after the start of its SHA-256; the digits identify which of
    torchvision's weights (V1 or V2) a renamed file is, and with them the preprocessing."""
    torch.manual_seed(0)
    path = tmp_path / "downloaded.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    digits = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    v2 = ResNet50_Weights.IMAGENET1K_V2
    monkeypatch.setattr(v2.value, "url", v2.url.rsplit("-", 1)[0] + f"-{digits}.pth")  # as if published
    model, meta = pretrained.load_published(path)
    assert meta["model"] == "resnet50_tv" and meta["weights"] == "torchvision resnet50 IMAGENET1K_V2"
    assert meta["published"]["top1"] == v2.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    # IMAGENET1K_V2's documented preprocessing: resize 232, centre crop 224
    assert meta["data_config"]["image_size"] == [3, 232, 232] and meta["data_config"]["input_size"] == [3, 224, 224]
    assert meta["classes"] == v2.meta["categories"] and meta["classes"][0] == "tench"


def test_a_damaged_download_is_refused(tmp_path):
    path = tmp_path / ResNet50_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]  # resnet50-0676ba61.pth
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=r"named as torchvision's resnet50 IMAGENET1K_V1 .*damaged"):
        pretrained.load_published(path)


def test_timms_own_seresnet18_weights_are_not_read_into_the_papers_unit():
    """timm's legacy SE basic block applies a ReLU before the SE block (the paper's does not):
    the same tensors compute something else."""
    torch.manual_seed(0)
    reference = timm.create_model("legacy_seresnet18")
    model = cnnzoo.create_model("se_resnet18")
    model.load_state_dict({pretrained._senet_key(k): v for k, v in reference.state_dict().items()})
    with pytest.raises(AssertionError):
        _outputs_match(model, reference)
    assert "se_resnet18" not in pretrained.published_sources()


def test_unrecognised_files_need_the_model_named(tmp_path):
    path = tmp_path / "mine.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="--model NAME"):
        pretrained.load_published(path)
    with pytest.raises(ValueError, match="use --model resnet50_tv"):  # paper layout: keys fit, maths differ
        pretrained.load_published(path, "resnet50")
    with pytest.raises(ValueError, match="reads no published weights of lenet5"):
        pretrained.load_published(path, "lenet5")
    with pytest.raises(ValueError, match="do not fit resnet34"):
        pretrained.load_published(path, "resnet34")


@pytest.mark.parametrize("content,expected", [
    (b"\x80\x02garbage\xff\x00", "not a readable weight file"),
    (b"not a weight file", "is a text file"),
    ({"epoch": 3}, "not a state_dict"),
])
def test_what_is_not_a_state_dict_is_named(tmp_path, content, expected):
    path = tmp_path / "x.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError, match=expected):
        pretrained.load_published(path, "resnet18")


def test_training_checkpoints_and_dataparallel_prefixes(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"epoch": 90, "state_dict": state}, tmp_path / "ckpt.pth")
    with pytest.warns(SettingWarning):
        model, _ = pretrained.load_published(tmp_path / "ckpt.pth", "resnet18")
    _outputs_match(model, reference)


class _Probe(torch.nn.Module):
    """Records the input it is given: what cnnzoo's preprocessing made of an image."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x):
        self.seen = x
        return torch.zeros(len(x), self.num_classes)


def test_predict_preprocesses_as_torchvision_does(tmp_path):
    """An image preprocessed for imported weights as torchvision's ``weights.transforms()``
    does it (resize the shorter side to 256, centre crop 224, ImageNet's mean and std)."""
    torch.save(torchvision.models.googlenet(weights=None, init_weights=True).state_dict(), tmp_path / "g.pth")
    with pytest.warns(SettingWarning):
        _, meta = pretrained.load_published(tmp_path / "g.pth", "googlenet_tv")
    gen = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 30, 40, generator=gen), size=(300, 400),
                                             mode="bilinear", align_corners=False)
    image = Image.fromarray((smooth[0].permute(1, 2, 0) * 255).round().byte().numpy())
    probe = _Probe()
    probe.data_config = meta["data_config"]
    cnnzoo.predict(probe, [image])
    reference = GoogLeNet_Weights.IMAGENET1K_V1.transforms()(image)
    assert probe.seen.shape[1:] == reference.shape == (3, 224, 224)
    # torchvision resizes with PIL, we with torch (both bilinear, antialiased): a grey level or
    # two apart at most, 1/255/0.225 ≈ 0.017 in normalised units each
    assert (probe.seen[0] - reference).abs().mean() < 0.02


def test_import_command_writes_a_checkpoint_the_commands_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), "r18.pth")
    assert main(["import", "r18.pth", "--model", "resnet18"]) == 0
    model, meta = cnnzoo.load_model("resnet18.safetensors")
    _outputs_match(model, reference)
    assert meta["dataset"] == "imagenet" and len(meta["classes"]) == 1000
    assert main(["import", "r18.pth", "--model", "resnet18"]) != 0  # never over a weight file
    assert "no command writes over it" in capsys.readouterr().err
    image = tmp_path / "x.png"
    Image.new("RGB", (64, 48), "red").save(image)
    assert main(["predict", "resnet18.safetensors", str(image), "--topk", "1", "--json"]) == 0
    top = json.loads(capsys.readouterr().out)[0]["top"][0]["class"]
    assert top in torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet's names
    assert main(["import", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "resnet50_tv" in listed and "inception_v4" in listed and "se_resnet50" in listed


def test_imagenet_wnids_are_timms_in_class_order():
    """The class folders of ILSVRC-2012 (WordNet IDs), in the order the published networks
    number their outputs: timm's list, which is the sorted one (ImageFolder's order)."""
    from pathlib import Path

    import timm.data

    timm_list = (Path(timm.data.__file__).parent / "_info" / "imagenet_synsets.txt").read_text().split()
    assert pretrained.imagenet_wnids() == timm_list == sorted(timm_list)
    assert len(timm_list) == 1000 and timm_list[0] == "n01440764"  # tench


def _imported(tmp_path, name="resnet18"):
    torch.manual_seed(0)
    torch.save(torchvision.models.get_model(name, weights=None).state_dict(), tmp_path / "w.pth")
    with pytest.warns(SettingWarning):
        path, _ = pretrained.import_weights(tmp_path / "w.pth", name, tmp_path / f"{name}.safetensors")
    return path


def test_eval_pairs_wordnet_class_folders_and_scores_every_image(tmp_path):
    """ImageNet's images come in folders named by WordNet ID; n01440764 is class 0 (tench),
    n01443537 class 1 (goldfish) in every published network's numbering."""
    checkpoint = _imported(tmp_path)
    for wnid, count in (("n01443537", 3), ("n01440764", 2)):
        (tmp_path / "val" / wnid).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (80, 60), (40 * i, 90, 200)).save(tmp_path / "val" / wnid / f"{i}.png")
    r = cnnzoo.evaluate(checkpoint, tmp_path / "val", split="all")
    assert r["n"] == 5 and r["split"] == "every image"
    assert [sum(row) for row in r["confusion"][:2]] == [2, 3] and r["classes"][:2] == ["tench", "goldfish"]
    assert all(acc is None for acc in r["per_class"][2:])
    with pytest.raises(ValueError, match=r"does not download: give its images \(--data FOLDER"):
        cnnzoo.evaluate(checkpoint)


def test_eval_reads_a_folder_mixing_wordnet_ids_and_class_names(tmp_path):
    """A folder named by WordNet ID is that ID's class beside folders named by class: an error
    names only the folders that are neither (they were all listed, IDs included)."""
    checkpoint = _imported(tmp_path)
    for folder, count in (("n01440764", 2), ("goldfish", 3)):  # tench by ID, goldfish by name
        (tmp_path / "val" / folder).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (64, 64), (40 * i, 90, 200)).save(tmp_path / "val" / folder / f"{i}.png")
    r = cnnzoo.evaluate(checkpoint, tmp_path / "val", split="all")
    assert [sum(row) for row in r["confusion"][:2]] == [2, 3]
    (tmp_path / "val" / "not_a_class").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "val" / "not_a_class" / "0.png")
    with pytest.raises(ValueError, match=r"not trained on: 'not_a_class'; the model's classes are 'tench', 'goldfish',"):
        cnnzoo.evaluate(checkpoint, tmp_path / "val", split="all")
    (tmp_path / "val" / "not_a_class").rename(tmp_path / "val" / "tench")  # tench twice: by ID and by name
    with pytest.raises(ValueError, match=r"folders 'n01440764' and 'tench' are one class"):
        cnnzoo.evaluate(checkpoint, tmp_path / "val", split="all")


def test_a_foreign_state_dict_given_to_eval_points_to_import(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18-f37072fd.pth")
    with pytest.raises(ValueError, match="cnnzoo import"):
        cnnzoo.load_model(tmp_path / "resnet18-f37072fd.pth")


@pytest.mark.parametrize("ours,timm_name", [("inception_v4", "inception_v4"),
                                            ("inception_resnet_v2", "inception_resnet_v2")])
def test_timm_inception_safetensors_give_timms_outputs(tmp_path, ours, timm_name):
    """timm's Inception files (Cadene's names, ``features.6.branch1.0.conv``), whose keys a
    safetensors file holds sorted by name, read into our networks: timm's outputs."""
    torch.manual_seed(0)
    reference = timm.create_model(timm_name)
    save_file(reference.state_dict(), tmp_path / "model.safetensors")
    model, meta = pretrained.load_published(tmp_path / "model.safetensors", ours)
    assert meta["model"] == ours and len(meta["classes"]) == 1000
    _outputs_match(model, reference, 299)
    with pytest.raises(ValueError, match=f"do not fit {ours}"):  # another network's file
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "r.pth")
        pretrained.load_published(tmp_path / "r.pth", ours)


def test_a_renamed_published_file_is_recognised_by_content(tmp_path, monkeypatch):
    """A published V2 file saved under the V1 file's name is V2's weights, not a damaged V1."""
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), tmp_path / "x.pth")
    digits = hashlib.sha256((tmp_path / "x.pth").read_bytes()).hexdigest()[:8]
    v1, v2 = ResNet50_Weights.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V2
    monkeypatch.setattr(v2.value, "url", v2.url.rsplit("-", 1)[0] + f"-{digits}.pth")
    (tmp_path / "x.pth").rename(tmp_path / v1.url.rsplit("/", 1)[1])
    _, meta = pretrained.load_published(tmp_path / v1.url.rsplit("/", 1)[1])
    assert meta["weights"] == "torchvision resnet50 IMAGENET1K_V2"


def test_other_numbers_of_classes_are_numbered(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None, num_classes=10).state_dict(), tmp_path / "r.pth")
    with pytest.warns(SettingWarning):
        model, meta = pretrained.load_published(tmp_path / "r.pth", "resnet18")
    assert meta["classes"] == [str(i) for i in range(10)] and meta["dataset"] is None
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


def _bad_files(tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    whole = (tmp_path / "r18.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("resnet18 weights, see the link\n")
    (tmp_path / "folder").mkdir()
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    return {  # the file, what the one-line error must say
        "missing.pth": "no such weight file",
        "folder": "is a folder",
        "empty.pth": "is empty",
        "cut.pth": "cut short",
        "notes.txt": "is a text file",
        "tensor.pth": "holds Tensor .*not a state_dict",
        "list.pth": "holds list .*not a state_dict",
    }


def test_bad_files_get_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, expected in _bad_files(tmp_path).items():
        assert main(["import", name, "--model", "resnet18", "--out", "x.safetensors"]) == 2, name
        err = capsys.readouterr().err
        assert re.search(expected, err) and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.safetensors").exists()


def test_a_cnnzoo_checkpoint_is_not_imported_again(tmp_path, monkeypatch, capsys):
    """Importing would replace the checkpoint's own classes and preprocessing with ImageNet's."""
    path = _imported(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(path), "--model", "resnet18", "--out", "again.safetensors"]) == 2
    assert "already a cnnzoo checkpoint" in capsys.readouterr().err
    cnnzoo.train.checkpoint.save_checkpoint(tmp_path / "last.ckpt", {"model": torchvision.models.resnet18().state_dict()})
    with pytest.raises(ValueError, match="already a cnnzoo checkpoint"):
        pretrained.load_published(tmp_path / "last.ckpt", "resnet18")


def test_bare_digit_labels_are_not_paired_with_imagenet_classes(tmp_path):
    """The bundled digits' classes are the bare numbers 0-9; an ImageNet network's outputs are
    tench, goldfish, ...: pairing them by position would score digits as fish."""
    checkpoint = _imported(tmp_path)
    with pytest.raises(ValueError, match="holds classes the model was not trained on: '0', '1',"):
        cnnzoo.evaluate(checkpoint, "mnist-sample", split="all")


def test_info_names_the_published_weights_a_network_reads(capsys):
    assert main(["info", "resnet50_tv"]) == 0
    out = capsys.readouterr().out
    assert all(w.name in out for w in ResNet50_Weights)  # IMAGENET1K_V1 and IMAGENET1K_V2
    assert main(["info", "resnet50"]) == 0  # the paper's layout: torchvision's weights are not its
    assert "IMAGENET1K" not in capsys.readouterr().out


def test_eval_preprocesses_photographs_of_any_size_as_torchvision_does(tmp_path):
    """Inception v3's weights want the shorter side at 342 and a 299 centre crop
    (``Inception_V3_Weights.IMAGENET1K_V1.transforms()``): photographs of mixed sizes are read
    straight to that, not first to the folder's own median size."""
    from torchvision.models import Inception_V3_Weights

    torch.save(torchvision.models.inception_v3(weights=None, init_weights=True).state_dict(), tmp_path / "i.pth")
    with pytest.warns(SettingWarning):
        _, meta = pretrained.load_published(tmp_path / "i.pth", "inception_v3")
    folder = tmp_path / "val" / "n01440764"
    folder.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for i, (w, h) in enumerate([(500, 375), (400, 300), (640, 427)]):  # 640×427: a long side of 512.6
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 40, 52, generator=gen), size=(h, w),
                                                 mode="bilinear", align_corners=False)
        Image.fromarray((smooth[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(folder / f"{i}.png")
    probe = _Probe()
    probe.data_config = meta["data_config"]
    cnnzoo.evaluate(probe, tmp_path / "val", split="all")
    transform = Inception_V3_Weights.IMAGENET1K_V1.transforms()
    reference = torch.stack([transform(Image.open(folder / f"{i}.png").convert("RGB")) for i in range(3)])
    assert probe.seen.shape == reference.shape == (3, 3, 299, 299)
    # torchvision's Resize (the long side truncated: 512.6 → 512) and one CenterCrop (its offset
    # rounded half to even: 43 / 2 → 22): the same pixels, up to PIL's and torch's arithmetic
    assert (probe.seen - reference).abs().mean() < 0.02  # under about one grey level (1/255 over std ≈ 0.017)


def test_the_number_of_classes_is_read_from_the_classifier_whatever_the_key_order(tmp_path):
    """GoogLeNet's auxiliary heads hold matrices too (aux1.fc1: 1024×2048); a file whose keys
    come in another order must still give the classifier's 10 outputs."""
    state = torchvision.models.googlenet(weights=None, init_weights=True, num_classes=10).state_dict()
    torch.save(dict(reversed(state.items())), tmp_path / "g.pth")
    with pytest.warns(SettingWarning):
        model, meta = pretrained.load_published(tmp_path / "g.pth", "googlenet_tv")
    assert model.num_classes == 10 and meta["classes"] == [str(i) for i in range(10)]


def test_eval_keeps_a_run_trained_on_oblong_images_at_their_shape(tmp_path):
    """Images read straight at the training size only where that size is square: a run trained
    on 12×16 images is scored on the 12×16 images as they are, not on 16×16 crops."""
    pixels = torch.randint(0, 256, (2, 3, 12, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    for c, image in zip("ab", pixels):
        (tmp_path / c).mkdir()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / c / "0.png")
    probe = _Probe(num_classes=2)
    probe.data_config = {"input_size": [3, 12, 16], "image_size": [3, 12, 16], "mean": [0.0] * 3,
                         "std": [1.0] * 3, "test_crop": 1.0, "classes": ["a", "b"]}
    cnnzoo.evaluate(probe, tmp_path, split="all")
    torch.testing.assert_close(probe.seen, pixels.float() / 255)


@pytest.mark.parametrize("arch", sorted(pretrained._torchvision_archs()))
def test_every_torchvision_architecture_read_has_its_tensors(arch):
    """Every torchvision network whose weights import reads into ours holds the same tensor
    names and shapes (checked on the meta device; outputs are compared above for a sample)."""
    ours = pretrained._torchvision_archs()[arch]
    options = dict(pretrained._TV_OPTIONS.get(arch, {}))
    with torch.device("meta"):
        extra = {"init_weights": False} if "transform_input" in options else {}  # no init warning
        reference = torchvision.models.get_model(arch, weights=None, **options, **extra).state_dict()
        model = cnnzoo.create_model(ours, **options).state_dict()
    rename = pretrained._TV_RENAME.get(arch, lambda k: k)
    assert {rename(k): tuple(v.shape) for k, v in reference.items()} == {k: tuple(v.shape) for k, v in model.items()}


def test_a_large_folder_is_scored_part_by_part_with_the_same_result(tmp_path, monkeypatch):
    """ImageNet's 50,000 validation images need not fit in memory: eval decodes a folder a
    part at a time, and the scores are those of the whole folder at once."""
    import importlib

    from cnnzoo.data import datasets

    evaluation = importlib.import_module("cnnzoo.train.evaluate")  # the module, not the function

    gen = torch.Generator().manual_seed(0)
    for c, n in (("a", 5), ("b", 4), ("c", 3)):
        (tmp_path / c).mkdir()
        for i in range(n):
            size = (20 + 3 * i, 16 + 2 * i)  # photographs of several sizes
            pixels = torch.randint(0, 256, (size[1], size[0], 3), dtype=torch.uint8, generator=gen)
            Image.fromarray(pixels.numpy()).save(tmp_path / c / f"{i}.png")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 12 * 12, 3))
    model.num_classes = 3
    model.data_config = {"input_size": [3, 12, 12], "image_size": [3, 14, 14], "mean": [0.5] * 3,
                         "std": [0.25] * 3, "test_crop": 12 / 14, "classes": ["a", "b", "c"]}
    whole = cnnzoo.evaluate(model, tmp_path, split="all", batch_size=5)
    decoded = []
    decode = datasets._decode
    monkeypatch.setattr(datasets, "_decode", lambda files, *a: decoded.append(len(files)) or decode(files, *a))
    monkeypatch.setattr(evaluation, "PART", 5)
    parts = cnnzoo.evaluate(model, tmp_path, split="all", batch_size=5)
    assert decoded == [5, 5, 2]  # the 12 images, never more than a part at once
    assert parts["confusion"] == whole["confusion"] and parts["n"] == whole["n"] == 12
    assert parts["loss"] == pytest.approx(whole["loss"]) and parts["top5"] == pytest.approx(whole["top5"])
    # without a recorded normalisation the data's statistics are needed: read whole, as before
    del model.data_config["mean"], model.data_config["std"]
    decoded.clear()
    monkeypatch.setattr(evaluation, "PART", 1024)
    unrecorded_whole = cnnzoo.evaluate(model, tmp_path, split="all", batch_size=5)
    monkeypatch.setattr(evaluation, "PART", 5)
    assert cnnzoo.evaluate(model, tmp_path, split="all", batch_size=5)["confusion"] == unrecorded_whole["confusion"]
    assert decoded == [12, 12]


def test_an_empty_data_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch):
    checkpoint = _imported(tmp_path)
    (tmp_path / "n01440764").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "n01440764" / "x.png")
    monkeypatch.chdir(tmp_path)  # Path("") is "." and "." holds a class folder here
    for empty in ("", "  "):
        with pytest.raises(ValueError, match="the dataset name or path is empty"):
            cnnzoo.evaluate(checkpoint, empty, split="all")


def test_compress_pairs_wordnet_class_folders_as_eval_does(tmp_path):
    """Deep Compression of imported weights retrains on ImageNet-style folders (named by WordNet
    ID) as eval scores them: n01440764 is class 0 (tench), n01443537 class 1 (goldfish)."""
    from cnnzoo.compress.pipeline import _as_trained  # what compress retrains and tests on

    checkpoint = _imported(tmp_path)
    for wnid in ("n01443537", "n01440764"):
        (tmp_path / "data" / wnid).mkdir(parents=True)
        for i in range(6):  # 6 per class: the held-out tenth keeps one
            Image.new("RGB", (40, 30), (40 * i, 90, 200)).save(tmp_path / "data" / wnid / f"{i}.png")
    _, meta = cnnzoo.load_model(checkpoint)
    sets = [cnnzoo.load_dataset(tmp_path / "data", train=part) for part in (True, False)]
    train, test = _as_trained(sets, meta)
    assert train.classes[:2] == ["tench", "goldfish"] and sorted(set(train.labels.tolist())) == [0, 1]
    resize = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms().resize_size  # [256]
    assert train.image_size == (3, resize[0], resize[0]) and len(test) == 2


def test_a_run_read_at_another_size_than_its_crop_wants_keeps_its_test_view(tmp_path):
    """One crop at read time is for images read at input / test_crop (imported weights); a run
    whose photographs were read at 125 px for a 224 input (googlenet with the resnet preset's
    224/256) is fitted to 256 and cropped by the loader, as its epochs' test view was."""
    from cnnzoo.data import Augment, ImageDataset, Loader

    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (2, 3, 125, 125), dtype=torch.uint8, generator=gen)
    config = {"input_size": [3, 224, 224], "image_size": [3, 125, 125], "mean": [0.5] * 3, "std": [0.25] * 3,
              "test_crop": 224 / 256, "classes": ["a", "b"]}
    for c, image in zip("ab", pixels):
        (tmp_path / c).mkdir()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / c / "0.png")
    probe = _Probe(num_classes=2)
    probe.data_config = config
    cnnzoo.evaluate(probe, tmp_path, split="all")
    test_view = Loader(ImageDataset(pixels, torch.arange(2), ["a", "b"], "x"), batch_size=2, train=False,
                       input_size=(3, 224, 224), mean=[0.5] * 3, std=[0.25] * 3,
                       augment=Augment(test_crop=224 / 256))
    torch.testing.assert_close(probe.seen, next(iter(test_view))[0])
    assert cnnzoo.preprocess(probe, [tmp_path / "a" / "0.png"]).shape == (1, 3, 224, 224)
