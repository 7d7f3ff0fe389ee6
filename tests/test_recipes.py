"""Training recipes and learning-rate schedules against the papers' numbers (issue 6)."""

import math
import re

import pytest
import torch

from cnnzoo.train.optim import Schedule, build_optimizer
from cnnzoo.train.recipes import Recipe, get_recipe, parse_overrides


def _lrs(recipe: Recipe, steps_per_epoch: int, steps):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=recipe.lr)
    sched = Schedule(opt, recipe, steps_per_epoch)
    out = {}
    for t in range(max(steps) + 1):
        if t in steps:
            out[t] = opt.param_groups[0]["lr"]
        sched.step()
    return out


def test_alexnet_paper_recipe():
    # Krizhevsky et al. 2012, §5: batch 128, momentum 0.9, weight decay 0.0005, lr 0.01,
    # divided by 10 when the validation error stops improving, three times.
    r = get_recipe("alexnet", "paper")
    assert (r.batch_size, r.momentum, r.weight_decay, r.lr) == (128, 0.9, 0.0005, 0.01)
    assert (r.schedule, r.gamma, r.max_decays) == ("plateau", 0.1, 3)


def test_vgg_paper_recipe():
    # Simonyan & Zisserman 2014, §3.1: batch 256, momentum 0.9, wd 5e-4, lr 1e-2, 74 epochs.
    r = get_recipe("vgg16", "paper")
    assert (r.batch_size, r.momentum, r.weight_decay, r.lr, r.epochs) == (256, 0.9, 5e-4, 0.01, 74)


def test_cifar_resnet_schedule_divides_at_32k_and_48k_iterations():
    # He et al. 2015, §4.2: lr 0.1, divided by 10 at 32k and 48k iterations; batch 128,
    # weight decay 0.0001, momentum 0.9.
    r = get_recipe("resnet20", "paper")
    assert (r.lr, r.batch_size, r.weight_decay, r.momentum) == (0.1, 128, 1e-4, 0.9)
    lrs = _lrs(r, 391, {0, 31_999, 32_000, 47_999, 48_000})
    assert lrs[0] == pytest.approx(0.1) and lrs[31_999] == pytest.approx(0.1)
    assert lrs[32_000] == pytest.approx(0.01) and lrs[47_999] == pytest.approx(0.01)
    assert lrs[48_000] == pytest.approx(0.001)


def test_resnet110_warms_up_at_0_01():
    # He et al. 2015, §4.2: ResNet-110 starts at 0.01 for about 400 iterations, then 0.1.
    lrs = _lrs(get_recipe("resnet110", "paper"), 391, {0, 399, 400})
    assert lrs[0] == pytest.approx(0.01) and lrs[399] == pytest.approx(0.01) and lrs[400] == pytest.approx(0.1)


def test_inception_v3_recipe():
    # Szegedy et al. 2015, §7-8: RMSProp decay 0.9, ε 1.0, lr 0.045 decayed every two epochs
    # by 0.94, gradient clipping 2.0, label smoothing 0.1.
    r = get_recipe("inception_v3", "paper")
    assert (r.optimizer, r.rmsprop_decay, r.eps, r.lr, r.grad_clip, r.label_smoothing) == \
        ("rmsprop", 0.9, 1.0, 0.045, 2.0, 0.1)
    lrs = _lrs(r, 10, {19, 20, 40})
    assert lrs[19] == pytest.approx(0.045) and lrs[20] == pytest.approx(0.045 * 0.94)
    assert lrs[40] == pytest.approx(0.045 * 0.94**2)
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], r)
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["alpha"] == 0.9 and opt.defaults["eps"] == 1.0


def test_googlenet_lr_falls_4_percent_every_8_epochs():
    # Szegedy et al. 2014, §6: "decreasing the learning rate by 4% every 8 epochs".
    lrs = _lrs(get_recipe("googlenet", "paper"), 5, {39, 40, 80})
    assert lrs[40] / lrs[39] == pytest.approx(0.96) and lrs[80] / lrs[39] == pytest.approx(0.96**2)


def test_lenet5_paper_step_sizes():
    # LeCun et al. 1998, §III.B: 0.0005 for 2 passes, 0.0002 for 3, 0.0001 for 3, 0.00005 for
    # 4, then 0.00001: the recipe keeps these ratios.
    paper = [0.0005] * 2 + [0.0002] * 3 + [0.0001] * 3 + [0.00005] * 4 + [0.00001] * 8
    r = get_recipe("lenet5", "paper")
    assert r.epochs == 20
    lrs = _lrs(r, 3, {3 * e for e in range(20)})
    for e, eta in enumerate(paper):
        assert lrs[3 * e] / lrs[0] == pytest.approx(eta / paper[0])


def test_densenet_uses_nesterov_momentum():
    # Huang et al. 2017, §4.2: Nesterov momentum 0.9 without dampening, weight decay 1e-4.
    r = get_recipe("densenet121", "paper")
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], r)
    assert opt.defaults["nesterov"] and opt.defaults["momentum"] == 0.9 and opt.defaults["dampening"] == 0
    assert r.weight_decay == 1e-4 and r.milestones == (30, 60)


def test_plateau_divides_after_patience_at_most_max_decays_times():
    r = Recipe(name="t", source="test", epochs=50, batch_size=1, lr=1.0, schedule="plateau",
               patience=2, gamma=0.1, max_decays=2)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = Schedule(opt, r, 1)
    for acc in [50, 60, 60, 60]:  # improves, then stalls for 2 epochs
        s.epoch_end(acc)
    assert s.lr == pytest.approx(0.1)
    for acc in [60] * 10:
        s.epoch_end(acc)
    assert s.lr == pytest.approx(0.01)  # never below max_decays divisions


def test_cosine_warmup_starts_low_and_ends_at_zero():
    r = Recipe(name="t", source="test", epochs=10, batch_size=1, lr=1.0, schedule="cosine", warmup=1,
               warmup_factor=0.1)
    lrs = _lrs(r, 10, {0, 5, 10, 55, 99})
    assert lrs[0] == pytest.approx(0.1) and lrs[5] == pytest.approx(0.55) and lrs[10] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5) and lrs[99] == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))


def test_overrides_and_errors():
    r = get_recipe("resnet20", "paper", lr=0.05, milestones=[10, 20])
    assert r.lr == 0.05 and r.milestones == (10, 20)
    with pytest.raises(ValueError, match="unknown recipe field"):
        get_recipe("resnet20", "paper", learning_rate=0.1)
    with pytest.raises(ValueError, match="recipe must be"):
        get_recipe("resnet20", "fast")
    with pytest.raises(ValueError, match="optimizer"):
        get_recipe("resnet20", optimizer="lbfgs")
    assert parse_overrides(["lr=0.5", "milestones=[1,2]", "optimizer=adam", "nesterov=true"]) == \
        {"lr": 0.5, "milestones": [1, 2], "optimizer": "adam", "nesterov": True}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])


@pytest.mark.parametrize("override, expected", [
    ("milestones=abc", "milestones must be a list of finite numbers"),  # not a list of 'a','b','c'
    ("milestones=[1,\"a\"]", "milestones must be a list of finite numbers"),
    ("momentum=nan", "momentum must be a finite number, got 'nan'"),
    ("lr=abc", "lr must be a finite number, got 'abc'"),
    ("epochs=2.5", "epochs must be an integer"),
    ("nesterov=1", "nesterov must be true or false"),
    ("input_size=[3,32]", "input_size must be a list of 3 integers"),
    ("aux_weight=heavy", "aux_weight must be a finite number or null"),
    ("model_options={}", "model_options is not a setting to override: model options are given with --option"),
    ("name=mine", "name is not a setting to override"),
    ("patience=-2", "patience and max_decays must be ≥ 0"),
    ('augment={"flip":"yes"}', "augmentation field flip must be true or false, got 'yes'"),
    ('augment={"distort":"x"}', "augmentation field distort must be a finite number, got 'x'"),
    ('augment={"ratio":[1]}', "augmentation field ratio must be a list of 2 finite numbers"),
    ("augment=wild", "unknown augmentation 'wild'; presets:"),
    ("momentum=5", "momentum must lie in [0, 1)"),  # SGD's momentum is a decay factor
    ("warmup=-1", "warmup and grad_clip must be ≥ 0"),
    ("grad_clip=-1", "warmup and grad_clip must be ≥ 0"),
])
def test_command_line_overrides_are_type_checked(override, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        get_recipe("resnet20", **parse_overrides([override]))


def test_well_typed_overrides_pass():
    fields = parse_overrides(["milestones=[30,60.5]", "input_size=[3,32,32]", "eps=null",
                              "aux_weight=0.3", "lr=1"])
    r = get_recipe("resnet20", **fields)
    assert r.milestones == (30, 60.5) and r.input_size == (3, 32, 32) and r.eps is None
    assert r.lr == 1 and r.aux_weight == 0.3


def test_every_registered_model_has_both_recipes():
    import cnnzoo

    for name in cnnzoo.list_models():
        for kind in ("small", "paper"):
            r = get_recipe(name, kind)
            assert r.epochs >= 1 and r.lr > 0


@pytest.mark.parametrize("milestones", [[-1], [0, 30], [60, 30]])
def test_milestones_must_be_positive_and_increasing(milestones):
    with pytest.raises(ValueError, match="milestones must be positive and in increasing order"):
        get_recipe("lenet5", schedule="multistep", milestones=milestones)


def test_nin_lowers_the_rate_twice_to_one_percent_when_the_training_accuracy_stalls():
    # Lin et al. 2013, §4.1: "The training process [...] continues until the accuracy on the
    # training set stops improving, and then the learning rate is lowered by a scale of 10.
    # This procedure is repeated once such that the final learning rate is one percent of the
    # initial value."
    for name in ("nin", "nin_imagenet"):
        r = get_recipe(name, "paper")
        assert (r.batch_size, r.schedule, r.gamma, r.plateau_on) == (128, "plateau", 0.1, "train")
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=r.lr)
        s = Schedule(opt, r, 1)
        for epoch in range(10 * (r.patience + 1)):  # the test accuracy rises, the training one stalls
            s.epoch_end(test_top1=10.0 + epoch, train_top1=50.0)
        assert s.lr == pytest.approx(r.lr / 100)
        s = Schedule(opt, r, 1)
        for epoch in range(10 * (r.patience + 1)):  # the training accuracy keeps improving
            s.epoch_end(test_top1=50.0, train_top1=10.0 + epoch)
        assert s.lr == pytest.approx(r.lr)


def test_alexnet_plateau_watches_the_validation_error():
    # Krizhevsky et al. 2012, §5: "divide the learning rate by 10 when the validation error
    # rate stopped improving with the current learning rate" (the test split stands for it).
    r = get_recipe("alexnet", "paper")
    assert r.plateau_on == "test"
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=r.lr)
    s = Schedule(opt, r, 1)
    for epoch in range(r.patience + 1):
        s.epoch_end(test_top1=50.0, train_top1=10.0 + epoch)
    assert s.lr == pytest.approx(r.lr / 10)


# preact_resnet164: He et al. 2016, Appendix, the same schedule. (Highway networks use it too, by
# cnnzoo's stated choice rather than their paper's, so they are not a check of a paper here.)
@pytest.mark.parametrize("name", ["resnet20", "resnet56", "resnet110", "preact_resnet164"])
def test_cifar_resnets_stop_at_64k_iterations(name):
    # He et al. 2015, §4.2: "These models are trained with a mini-batch size of 128 [...]
    # divide it by 10 at 32k and 48k iterations, and terminate training at 64k iterations".
    # CIFAR-10 has 50,000 training images; the loader drops the last partial batch.
    r = get_recipe(name, "paper")
    steps_per_epoch = 50_000 // 128
    assert r.batch_size == 128
    assert abs(r.epochs * steps_per_epoch - 64_000) < steps_per_epoch


def test_imagenet_preactivation_resnets_step_at_30_and_60_epochs():
    # He et al. 2016, Appendix (ImageNet): "The learning rate starts from 0.1 (no warming up),
    # and is divided by 10 at 30 and 60 epochs. The mini-batch size is 256."
    r = get_recipe("preact_resnet50", "paper")
    assert (r.lr, r.batch_size, r.schedule, r.milestones, r.gamma, r.warmup) == (0.1, 256, "multistep", (30, 60), 0.1, 0)
    assert "Appendix" in r.source


def test_resnext29_follows_the_cifar_appendix():
    # Xie et al. 2016, Appendix A: "a mini-batch size of 128, with a weight decay of 0.0005 and
    # a momentum of 0.9 [...] a learning rate of 0.1 and train the models for 300 epochs,
    # reducing the learning rate at the 150-th and 225-th epoch".
    r = get_recipe("resnext29_8x64d", "paper")
    assert (r.batch_size, r.weight_decay, r.momentum, r.lr, r.epochs, r.milestones) == (128, 5e-4, 0.9, 0.1, 300, (150, 225))
    assert "Appendix A" in r.source


def test_zfnet_and_mobilenet_augmentations():
    from cnnzoo.data import AUGMENTS

    # Zeiler & Fergus 2013, §3: "we produce multiple different crops and flips of each training
    # example" (224 crops of the 256 image): no colour noise named.
    zf = AUGMENTS[get_recipe("zfnet", "paper").augment_rgb]
    assert zf.flip and zf.pca_jitter == 0 and zf.resized_crop == pytest.approx(((224 / 256) ** 2,) * 2)
    # Howard et al. 2017, §3.2: "limiting the size of small crops that are used in large
    # Inception training": a larger smallest crop than Inception's 8 % (Szegedy et al. 2014, §6).
    mobile = AUGMENTS[get_recipe("mobilenet_v1", "paper").augment_rgb]
    assert mobile.resized_crop[0] > 0.08 and mobile.resized_crop[1] == 1.0


def test_resnet_imagenet_uses_the_standard_colour_augmentation():
    # He et al. 2015, §3.4: "The standard color augmentation in [21] is used" ([21]: Krizhevsky
    # et al. 2012, §4.1, PCA colour noise with standard deviation 0.1), with scale augmentation
    # (shorter side in [256, 480]), 224×224 crops and flips.
    from cnnzoo.data import AUGMENTS

    r = get_recipe("resnet50", "paper")
    aug = AUGMENTS[r.augment_rgb]
    assert aug.pca_jitter == 0.1 and aug.flip
    assert aug.resized_crop == pytest.approx(((224 / 480) ** 2, (224 / 256) ** 2))


def test_mobilenet_puts_no_weight_decay_on_the_depthwise_filters():
    # Howard et al. 2017, §3.2 "Network Structure and Training" (§3.4 is the resolution
    # multiplier): "we found that it was important to put very little or no weight decay (l2
    # regularization) on the depthwise filters since their are so few parameters in them."
    import cnnzoo

    r = get_recipe("mobilenet_v1", "paper")
    assert "§3.2" in r.source
    # 4e-5 on the other weights: the authors' TF-slim code, mobilenet_v1_arg_scope(weight_decay=0.00004)
    assert r.depthwise_decay == 0.0 and r.weight_decay == 4e-5
    model = cnnzoo.create_model("mobilenet_v1", num_classes=10)
    opt = build_optimizer(model, r)
    depthwise = {id(m.weight) for m in model.modules()
                 if isinstance(m, torch.nn.Conv2d) and m.groups == m.in_channels > 1}
    assert len(depthwise) == 13  # Howard et al. 2017, Table 1: 13 "Conv dw" layers
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decay.keys() == {id(p) for p in model.parameters()}
    assert all(decay[i] == 0.0 for i in depthwise)
    # TF-slim's mobilenet_v1_arg_scope: an l2 weights_regularizer on slim.conv2d (and the
    # logits' conv), none on batch norm's parameters, no bias regularizer
    weights = {id(m.weight) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    assert {decay[i] for i in weights - depthwise} == {4e-5}
    assert {d for i, d in decay.items() if i not in weights} == {0.0}


def test_mobilenet_v2_puts_no_weight_decay_on_the_depthwise_filters():
    # Sandler et al. 2018, §6.1: "the standard weight decay is set to 0.00004"; the paper is
    # silent on the depthwise filters, and the authors' TF-slim code (mobilenet.training_scope:
    # weights_regularizer=None on slim.separable_conv2d, which builds them) decays them not.
    import cnnzoo

    r = get_recipe("mobilenet_v2", "paper")
    assert r.depthwise_decay == 0.0 and r.weight_decay == 4e-5
    model = cnnzoo.create_model("mobilenet_v2", num_classes=10)
    opt = build_optimizer(model, r)
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    depthwise = [m.weight for m in model.modules()
                 if isinstance(m, torch.nn.Conv2d) and m.groups == m.in_channels > 1]
    assert len(depthwise) == 1 + 2 + 3 + 4 + 3 + 3 + 1  # Table 2: bottlenecks repeated n times
    assert {decay[id(w)] for w in depthwise} == {0.0}


def test_a_module_without_depthwise_filters_keeps_one_group():
    # Any other recipe: one group, weight decay on every parameter, as torch.optim builds it
    # from model.parameters().
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3, groups=8))
    r = get_recipe("resnet20", "paper")
    opt = build_optimizer(model, r)
    ref = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["weight_decay"] == 1e-4  # He et al. 2015, §4.2
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in ref.param_groups[0]["params"]]
    # with depthwise_decay the depthwise filter alone takes it, and the schedule sets both lrs
    opt = build_optimizer(model, r.replace(depthwise_decay=0.0))
    assert [len(g["params"]) for g in opt.param_groups] == [3, 1]
    assert opt.param_groups[1]["params"][0] is model[1].weight and opt.param_groups[1]["weight_decay"] == 0.0
    s = Schedule(opt, r.replace(depthwise_decay=0.0), 1)
    for _ in range(32_000):  # He et al. 2015, §4.2: divided by 10 at 32k iterations
        s.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.01])


def test_zfnet_renormalises_filters_whose_rms_exceeds_a_tenth():
    # Zeiler & Fergus 2013, §3: "we renormalize each filter in the convolutional layers whose
    # RMS value exceeds a fixed radius of 10^-1 to this fixed radius".
    from cnnzoo.train.optim import renormalise_filters

    assert get_recipe("zfnet", "paper").filter_rms == 0.1
    conv = torch.nn.Conv2d(2, 3, 3)
    with torch.no_grad():
        conv.weight[0] = 0.5    # RMS 0.5: brought back to 0.1
        conv.weight[1] = -0.05  # RMS 0.05: left alone
        conv.weight[2] = 0.1    # on the radius: left alone
    renormalise_filters(conv, 0.1)
    assert conv.weight[0].flatten().tolist() == pytest.approx([0.1] * 18)
    assert conv.weight[1].flatten().tolist() == pytest.approx([-0.05] * 18)
    assert conv.weight[2].flatten().tolist() == pytest.approx([0.1] * 18)


def test_a_recipe_with_filter_rms_keeps_every_filter_within_it(tmp_path):
    import cnnzoo

    run = cnnzoo.train("lenet5_relu", "mnist-sample", epochs=1, batch_size=500, lr=0.05, optimizer="sgd",
                       filter_rms=0.02, out=tmp_path / "run", threads=1, channels_last=False, progress=False)
    convs = [m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.flatten(1).pow(2).mean(1).sqrt().max() <= 0.02 * (1 + 1e-5) for m in convs)
    with pytest.raises(ValueError, match="filter_rms must be positive"):
        get_recipe("zfnet", "paper").replace(filter_rms=0.0)


def test_overrides_read_pythons_literals_as_cnnzoo_info_prints_them():
    # `cnnzoo info bn_inception` prints "separable_stem=False": typed back, it is the bool
    assert parse_overrides(["separable_stem=True", "a=false", "b=None", "c=Truth"]) == {
        "separable_stem": True, "a": False, "b": None, "c": "Truth"}


@pytest.mark.parametrize("name", ["inception_v3", "inception_v4", "mobilenet_v2"])
def test_tf_slim_recipes_decay_weights_only(name):
    # The TF-slim arg scopes these networks were trained with (inception_v3_arg_scope,
    # inception_utils, mobilenet training_scope) regularize the convolutions' and the
    # classifier's weights; batch norm's scales and shifts and the biases take no decay.
    import cnnzoo

    model = cnnzoo.create_model(name, num_classes=10)
    opt = build_optimizer(model, get_recipe(name, "paper"))
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and {decay[id(p)] for m in norms for p in m.parameters()} == {0.0}
    assert decay[id(model.get_classifier().bias)] == 0.0
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    weights = [m.weight for m in layers if getattr(m, "groups", 1) == 1]  # depthwise: none, as above
    assert len(weights) > 30 and {decay[id(w)] for w in weights} == {4e-5}


def test_highway_trains_as_its_authors_release():
    # github.com/flukeskywalker/highway-networks, examples/highways/cifar10-19layers:
    # cifar10_solver.prototxt (solver_type NESTEROV, base_lr 0.025, momentum 0.9, multistep
    # gamma 0.1 at stepvalue 100000/150000/175000, weight_decay 0.001, max_iter 200000) and the
    # network's data layer (batch_size 100, mirror, crop_size 32 of padded images)
    r = get_recipe("highway", "paper")
    assert (r.optimizer, r.nesterov, r.lr, r.momentum, r.weight_decay) == ("sgd", True, 0.025, 0.9, 0.001)
    assert (r.milestones, r.unit, r.gamma, r.batch_size) == ((100_000, 150_000, 175_000), "step", 0.1, 100)
    assert r.epochs * 50_000 // r.batch_size == 200_000
    assert r.norm_bias_decay == 0.0  # the biases' decay_mult 0
