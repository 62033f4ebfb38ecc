// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

// The OpenZeppelin contracts the suite deploys as they are (artifacts VestingWallet and TimelockController).
import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
