// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/**
 * @title MeshCoin (MC) — governance and quote token (docs/settlement.md, "MeshCoin (MC) and governance").
 * @notice Fixed supply of 100,000,000 MC minted once in the constructor (there is no mint function):
 * 30 % public, 25 % team (to its VestingWallet), 20 % ecosystem, 15 % staking rewards, 10 % partnerships.
 * Votes (ERC20Votes, block-number clock) need a delegation, as usual.
 */
contract MeshCoin is ERC20, ERC20Permit, ERC20Votes {
    uint256 public constant TOTAL_SUPPLY = 100_000_000e18;

    constructor(address publicSale, address teamVesting, address ecosystem, address stakingRewards, address partnerships)
        ERC20("MeshCoin", "MC")
        ERC20Permit("MeshCoin")
    {
        _mint(publicSale, TOTAL_SUPPLY * 30 / 100);
        _mint(teamVesting, TOTAL_SUPPLY * 25 / 100);
        _mint(ecosystem, TOTAL_SUPPLY * 20 / 100);
        _mint(stakingRewards, TOTAL_SUPPLY * 15 / 100);
        _mint(partnerships, TOTAL_SUPPLY * 10 / 100);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
